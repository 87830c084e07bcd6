-- Change records, the people who raise and decide them, approval policies,
-- decisions, and the hash-chained audit log.

-- Commits listed on an artefact, in the order the build reports them.
CREATE TABLE artefact_commits (
    artefact_id INTEGER NOT NULL REFERENCES artefacts (id),
    position    INTEGER NOT NULL,
    sha         TEXT    NOT NULL,
    summary     TEXT    NOT NULL,
    author      TEXT    NOT NULL,
    PRIMARY KEY (artefact_id, position)
) WITHOUT ROWID;

CREATE TABLE profiles (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL,
    email         TEXT    NOT NULL UNIQUE,
    roles         TEXT    NOT NULL, -- JSON array of role keys
    created_at_ms INTEGER NOT NULL
);

-- One policy per environment ('*' for every environment) and change type.
CREATE TABLE approval_policies (
    environment TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('standard', 'normal', 'emergency')),
    body        TEXT NOT NULL, -- JSON of the policy
    PRIMARY KEY (environment, kind)
) WITHOUT ROWID;

CREATE TABLE change_records (
    id                        INTEGER PRIMARY KEY,
    kind                      TEXT    NOT NULL CHECK (kind IN ('standard', 'normal', 'emergency')),
    state                     TEXT    NOT NULL CHECK (state IN ('new', 'assess', 'authorise', 'scheduled', 'implement', 'review', 'closed', 'cancelled')),
    template                  TEXT,
    title                     TEXT    NOT NULL CHECK (length(title) > 0),
    description               TEXT    NOT NULL,
    artefact_id               INTEGER NOT NULL REFERENCES artefacts (id),
    planned_start_ms          INTEGER NOT NULL,
    planned_end_ms            INTEGER NOT NULL CHECK (planned_end_ms > planned_start_ms),
    implementation_plan       TEXT    NOT NULL,
    backout_plan              TEXT    NOT NULL,
    test_plan                 TEXT    NOT NULL,
    requester_id              INTEGER NOT NULL REFERENCES profiles (id),
    assignee_id               INTEGER REFERENCES profiles (id),
    rollback_possible         INTEGER NOT NULL CHECK (rollback_possible IN (0, 1)),
    no_rollback_justification TEXT,
    schema_migration          INTEGER NOT NULL CHECK (schema_migration IN (0, 1)),
    files_changed             INTEGER CHECK (files_changed >= 0),
    risk_override             TEXT, -- JSON
    approval_requested_at_ms  INTEGER,
    outcome                   TEXT CHECK (outcome IN ('successful', 'successful_with_issues', 'failed', 'rolled_back')),
    closing_note              TEXT,
    created_at_ms             INTEGER NOT NULL,
    updated_at_ms             INTEGER NOT NULL,
    revision                  INTEGER NOT NULL
);
CREATE INDEX change_records_by_state ON change_records (state, planned_start_ms);

CREATE TABLE change_services (
    change_id  INTEGER NOT NULL REFERENCES change_records (id),
    position   INTEGER NOT NULL,
    service_id INTEGER NOT NULL REFERENCES services (id),
    PRIMARY KEY (change_id, position),
    UNIQUE (change_id, service_id)
) WITHOUT ROWID;

CREATE TABLE change_environments (
    change_id      INTEGER NOT NULL REFERENCES change_records (id),
    position       INTEGER NOT NULL,
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    PRIMARY KEY (change_id, position),
    UNIQUE (change_id, environment_id)
) WITHOUT ROWID;

CREATE TABLE change_links (
    change_id INTEGER NOT NULL REFERENCES change_records (id),
    position  INTEGER NOT NULL,
    kind      TEXT    NOT NULL CHECK (kind IN ('deployment', 'commit', 'ticket', 'url')),
    value     TEXT    NOT NULL,
    PRIMARY KEY (change_id, position)
) WITHOUT ROWID;

-- Decisions are never edited: a person changes their mind with a new one.
CREATE TABLE decisions (
    id         INTEGER PRIMARY KEY,
    change_id  INTEGER NOT NULL REFERENCES change_records (id),
    profile_id INTEGER NOT NULL REFERENCES profiles (id),
    by_name    TEXT    NOT NULL,
    roles      TEXT    NOT NULL, -- JSON array: the roles held when deciding
    verdict    TEXT    NOT NULL CHECK (verdict IN ('approve', 'reject')),
    comment    TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    digest     TEXT    NOT NULL CHECK (length(digest) = 64)
);
CREATE INDEX decisions_by_change ON decisions (change_id, at_ms);

CREATE TRIGGER decisions_are_not_edited BEFORE UPDATE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are append-only: record a new decision instead');
END;
CREATE TRIGGER decisions_are_not_deleted BEFORE DELETE ON decisions
BEGIN
    SELECT RAISE(ABORT, 'decisions are append-only: record a new decision instead');
END;

-- The audit log: append-only and hash-chained (see crates/audit). The
-- triggers stop the app's own code from editing history; the chain is what
-- reveals an edit made behind the app's back.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash      BLOB    NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, seq);

-- The newest entry, so cutting entries off the end is detected.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);

CREATE TRIGGER audit_log_appends_in_order BEFORE INSERT ON audit_log
WHEN NEW.seq != COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0) + 1
BEGIN
    SELECT RAISE(ABORT, 'audit entries are appended in sequence');
END;
CREATE TRIGGER audit_log_moves_head AFTER INSERT ON audit_log
BEGIN
    INSERT INTO audit_head (id, seq, hash) VALUES (1, NEW.seq, NEW.hash)
    ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash;
END;
CREATE TRIGGER audit_log_is_not_edited BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_is_not_deleted BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
