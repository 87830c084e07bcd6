-- Approvals a provider waits on (a GitHub environment's required
-- reviewers), synced per binding, and the decisions people took on them in
-- the desk. The desk sends the provider's review only once its own policy
-- for the stage is met; a row leaves the queue when the review is sent or
-- when the provider no longer lists it ('gone': decided there, or the run
-- was cancelled).
CREATE TABLE provider_approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    binding_id    INTEGER NOT NULL REFERENCES bindings (id) ON DELETE CASCADE,
    provider_id   TEXT    NOT NULL,
    detail        TEXT    NOT NULL, -- the PendingApproval as JSON
    state         TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'gone')),
    first_seen_ms INTEGER NOT NULL,
    synced_at_ms  INTEGER NOT NULL,
    decided_at_ms INTEGER,
    UNIQUE (binding_id, provider_id)
);
CREATE INDEX provider_approvals_pending ON provider_approvals (state, first_seen_ms);

CREATE TABLE provider_approval_decisions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    approval_id INTEGER NOT NULL REFERENCES provider_approvals (id) ON DELETE CASCADE,
    profile_id  INTEGER NOT NULL REFERENCES profiles (id),
    roles       TEXT    NOT NULL, -- JSON array: the roles held when deciding
    verdict     TEXT    NOT NULL CHECK (verdict IN ('approve', 'reject')),
    comment     TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    -- What the decision is bound to: the approval's provider id and commit.
    digest      TEXT    NOT NULL CHECK (length(digest) = 64)
);
CREATE INDEX provider_approval_decisions_by_approval ON provider_approval_decisions (approval_id, id);
