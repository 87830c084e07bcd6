-- Promotions, rollbacks and drills, persisted after every step so that one
-- killed mid-way resumes exactly where it was.

-- Public keys (minisign) whose signatures the workspace trusts. Public keys
-- are not secrets: they live here, not in the keyring.
CREATE TABLE trusted_keys (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    public_key  TEXT    NOT NULL UNIQUE,
    key_id      TEXT    NOT NULL,
    label       TEXT    NOT NULL CHECK (length(label) > 0),
    added_by    TEXT    NOT NULL,
    added_at_ms INTEGER NOT NULL
);

-- Where an artefact's bytes are, for targets that fetch them (a tarball path
-- for the local target). The digest on the artefact binds the bytes.
CREATE TABLE artefact_locations (
    artefact_id INTEGER PRIMARY KEY REFERENCES artefacts (id),
    location    TEXT    NOT NULL CHECK (length(location) > 0)
);

-- Which deployment target serves a service in an environment, and how.
CREATE TABLE deployment_targets (
    service_id         INTEGER NOT NULL REFERENCES services (id),
    environment_id     INTEGER NOT NULL REFERENCES environments (id),
    provider           TEXT    NOT NULL,
    strategy           TEXT    NOT NULL CHECK (strategy IN ('blue_green', 'rolling')),
    soak_secs          INTEGER NOT NULL CHECK (soak_secs BETWEEN 0 AND 86400),
    max_error_rate_pct REAL    NOT NULL CHECK (max_error_rate_pct >= 0),
    max_p95_ms         REAL    NOT NULL CHECK (max_p95_ms > 0),
    PRIMARY KEY (service_id, environment_id)
);

CREATE TABLE promotions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Sent by the UI with each press of Promote: pressing twice starts one.
    request_key     TEXT    NOT NULL UNIQUE,
    kind            TEXT    NOT NULL CHECK (kind IN ('promote', 'rollback', 'drill')),
    service_id      INTEGER NOT NULL REFERENCES services (id),
    environment_id  INTEGER NOT NULL REFERENCES environments (id),
    artefact_id     INTEGER NOT NULL REFERENCES artefacts (id),
    change_id       INTEGER REFERENCES change_records (id),
    deployment_id   INTEGER REFERENCES deployments (id),
    requested_by    TEXT    NOT NULL,
    -- The planned promotion (JSON) and the gates as judged at the start.
    plan            TEXT    NOT NULL,
    gates           TEXT    NOT NULL,
    -- Cached from folding the events, for listing; the events are the truth.
    phase           TEXT    NOT NULL CHECK (phase IN ('running', 'switching_back', 'succeeded', 'failed')),
    created_at_ms   INTEGER NOT NULL,
    finished_at_ms  INTEGER
);
CREATE INDEX promotions_by_cell ON promotions (service_id, environment_id, id DESC);
CREATE INDEX promotions_unfinished ON promotions (phase) WHERE phase IN ('running', 'switching_back');

-- What happened, in order. Append-only.
CREATE TABLE promotion_events (
    promotion_id INTEGER NOT NULL REFERENCES promotions (id),
    seq          INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL,
    event        TEXT    NOT NULL,
    PRIMARY KEY (promotion_id, seq)
);
CREATE TRIGGER promotion_events_are_append_only_u BEFORE UPDATE ON promotion_events
BEGIN
    SELECT RAISE(ABORT, 'promotion events are append-only');
END;
CREATE TRIGGER promotion_events_are_append_only_d BEFORE DELETE ON promotion_events
BEGIN
    SELECT RAISE(ABORT, 'promotion events are append-only');
END;

-- One promotion per environment at a time. Held until the promotion ends;
-- a row here survives restarts, so a resumed promotion still holds it.
CREATE TABLE environment_locks (
    environment_id INTEGER PRIMARY KEY REFERENCES environments (id),
    promotion_id   INTEGER NOT NULL UNIQUE REFERENCES promotions (id),
    since_ms       INTEGER NOT NULL
);
