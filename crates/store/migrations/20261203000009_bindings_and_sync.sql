-- Bindings, and deployments synced from providers.
--
-- A binding maps a service × environment to a connection plus the
-- provider-specific place it lives there (a repository and GitHub
-- environment, a pipeline, a namespace, a slot). Removing a connection
-- removes its bindings and what was synced through them (a cache), never an
-- audit entry.
CREATE TABLE bindings (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    service_id     INTEGER NOT NULL REFERENCES services (id),
    environment_id INTEGER NOT NULL REFERENCES environments (id),
    connection_id  INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    settings       TEXT    NOT NULL, -- JSON object of strings
    created_at_ms  INTEGER NOT NULL,
    UNIQUE (service_id, environment_id, connection_id)
);
CREATE INDEX bindings_by_connection ON bindings (connection_id);

-- Who a connection's credential proved to be when last checked, so the
-- audit of an action taken there can name the provider account.
ALTER TABLE connections ADD COLUMN provider_login TEXT;
ALTER TABLE connections ADD COLUMN checked_at_ms INTEGER;

-- Synced deployments live beside local ones, so the dashboard, cell history
-- and drift read one table. A synced row names its connection and the
-- provider's own id (the upsert key: a re-sync never duplicates a row), a
-- link to the run, and whether the provider confirmed the artefact's digest:
-- a deployment matched only by version is shown, but never satisfies a gate
-- or chosen as a rollback target.
ALTER TABLE deployments ADD COLUMN connection_id INTEGER REFERENCES connections (id) ON DELETE CASCADE;
ALTER TABLE deployments ADD COLUMN provider_id TEXT;
ALTER TABLE deployments ADD COLUMN link TEXT;
ALTER TABLE deployments ADD COLUMN digest_confirmed INTEGER NOT NULL DEFAULT 1 CHECK (digest_confirmed IN (0, 1));
ALTER TABLE deployments ADD COLUMN synced_at_ms INTEGER;
-- Per service and stage: two services bound to one repository and
-- environment (a monorepo) each keep their own row of the same deployment.
CREATE UNIQUE INDEX deployments_by_provider_id
    ON deployments (connection_id, service_id, environment_id, provider_id)
    WHERE connection_id IS NOT NULL;

-- Each binding's sync: when it last succeeded, and the last error, per
-- source (deployments, approvals).
CREATE TABLE sync_state (
    binding_id        INTEGER NOT NULL REFERENCES bindings (id) ON DELETE CASCADE,
    source            TEXT    NOT NULL CHECK (source IN ('deployments', 'approvals')),
    last_synced_at_ms INTEGER,
    last_attempt_ms   INTEGER NOT NULL,
    last_error        TEXT,
    PRIMARY KEY (binding_id, source)
) WITHOUT ROWID;
