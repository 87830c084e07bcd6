-- Connections to providers: one configured account each (a GitHub
-- organisation, an Azure DevOps organisation, a ServiceNow instance…).
-- Secrets are in the OS keyring under `connection-<id>`, never here; ids are
-- AUTOINCREMENT so a removed connection's keyring account is never taken to
-- belong to a new one.
CREATE TABLE connections (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    kind          TEXT    NOT NULL CHECK (kind IN ('github', 'azure-devops', 'servicenow', 'kubernetes', 'app-service', 'aws-ssm')),
    name          TEXT    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 80),
    base_url      TEXT    NOT NULL CHECK (length(base_url) > 0),
    settings      TEXT    NOT NULL, -- JSON object of strings
    -- The highest stage it may be used against; NULL for every stage.
    reach         TEXT,
    created_at_ms INTEGER NOT NULL
);
