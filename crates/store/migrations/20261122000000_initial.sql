-- The first schema of Release Desk's local cache.
-- Times are INTEGER milliseconds since the Unix epoch, UTC: compact, indexable,
-- and free of the ordering traps of text timestamps.

CREATE TABLE workspace (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    name          TEXT    NOT NULL,
    demo          INTEGER NOT NULL CHECK (demo IN (0, 1)),
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE environments (
    id         INTEGER PRIMARY KEY,
    key        TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    production INTEGER NOT NULL CHECK (production IN (0, 1)),
    position   INTEGER NOT NULL
);

CREATE TABLE services (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    team       TEXT,
    repository TEXT
);

CREATE TABLE artefacts (
    id            INTEGER PRIMARY KEY,
    service_id    INTEGER NOT NULL REFERENCES services (id),
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    digest        TEXT    NOT NULL CHECK (length(digest) = 64),
    source_commit TEXT    NOT NULL,
    build_url     TEXT,
    created_at_ms INTEGER NOT NULL,
    signature     TEXT,
    UNIQUE (service_id, version)
);
CREATE INDEX artefacts_by_service_time ON artefacts (service_id, created_at_ms);

-- An artefact is immutable once recorded: its digest (and everything else
-- about it) never changes. A new build is a new version.
CREATE TRIGGER artefacts_are_immutable BEFORE UPDATE ON artefacts
BEGIN
    SELECT RAISE(ABORT, 'artefacts are immutable: record a new version instead');
END;

CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY,
    artefact_id    INTEGER NOT NULL REFERENCES artefacts (id),
    -- Copied from the artefact so one index serves every per-cell query.
    service_id     INTEGER NOT NULL REFERENCES services (id),
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    leg            TEXT CHECK (leg IN ('blue', 'green')),
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER CHECK (finished_at_ms IS NULL OR finished_at_ms >= started_at_ms),
    actor          TEXT    NOT NULL,
    outcome        TEXT    NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'in_progress', 'rolled_back')),
    failure_reason TEXT
);
CREATE INDEX deployments_by_cell ON deployments (service_id, environment_id, started_at_ms DESC, id DESC);
CREATE INDEX deployments_succeeded_by_cell ON deployments (service_id, environment_id, started_at_ms DESC, id DESC)
    WHERE outcome = 'succeeded';

CREATE TRIGGER deployments_match_their_artefact BEFORE INSERT ON deployments
WHEN NEW.service_id IS NOT (SELECT service_id FROM artefacts WHERE id = NEW.artefact_id)
BEGIN
    SELECT RAISE(ABORT, 'a deployment must belong to the same service as its artefact');
END;
