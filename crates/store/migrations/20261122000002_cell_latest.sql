-- The newest deployment, and the newest successful one, of every (service,
-- environment) pair, kept current by triggers. The dashboard then reads one
-- row per cell instead of searching the deployments of each cell.
CREATE TABLE cell_latest (
    service_id            INTEGER NOT NULL REFERENCES services (id),
    environment_id        INTEGER NOT NULL REFERENCES environments (id),
    last_deployment_id    INTEGER REFERENCES deployments (id),
    current_deployment_id INTEGER REFERENCES deployments (id),
    PRIMARY KEY (service_id, environment_id)
) WITHOUT ROWID;

-- Recomputed from the indexes rather than compared with NEW, so deployments
-- reported out of order (a provider catching up) still leave the right answer.
CREATE TRIGGER cell_latest_on_insert AFTER INSERT ON deployments
BEGIN
    INSERT INTO cell_latest (service_id, environment_id)
    VALUES (NEW.service_id, NEW.environment_id)
    ON CONFLICT (service_id, environment_id) DO NOTHING;
    UPDATE cell_latest SET
        last_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = NEW.service_id AND d.environment_id = NEW.environment_id
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
        current_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = NEW.service_id AND d.environment_id = NEW.environment_id
              AND d.outcome = 'succeeded'
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1)
    WHERE service_id = NEW.service_id AND environment_id = NEW.environment_id;
END;

-- A deployment that finishes (in progress → succeeded, failed, rolled back).
CREATE TRIGGER cell_latest_on_update AFTER UPDATE OF outcome, started_at_ms ON deployments
BEGIN
    UPDATE cell_latest SET
        last_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = NEW.service_id AND d.environment_id = NEW.environment_id
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
        current_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = NEW.service_id AND d.environment_id = NEW.environment_id
              AND d.outcome = 'succeeded'
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1)
    WHERE service_id = NEW.service_id AND environment_id = NEW.environment_id;
END;

-- A deployment that is removed (a correction): recompute its cell.
CREATE TRIGGER cell_latest_on_delete AFTER DELETE ON deployments
BEGIN
    UPDATE cell_latest SET
        last_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = OLD.service_id AND d.environment_id = OLD.environment_id
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
        current_deployment_id = (
            SELECT d.id FROM deployments d
            WHERE d.service_id = OLD.service_id AND d.environment_id = OLD.environment_id
              AND d.outcome = 'succeeded'
            ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1)
    WHERE service_id = OLD.service_id AND environment_id = OLD.environment_id;
END;

-- What a deployment shipped, and where, never changes once recorded; only its
-- progress (outcome, finish time, reason) does. This also keeps the service
-- check of `deployments_match_their_artefact` from being bypassed by UPDATE.
CREATE TRIGGER deployments_keep_their_identity
BEFORE UPDATE OF artefact_id, service_id, environment_id ON deployments
WHEN NEW.artefact_id IS NOT OLD.artefact_id
  OR NEW.service_id IS NOT OLD.service_id
  OR NEW.environment_id IS NOT OLD.environment_id
BEGIN
    SELECT RAISE(ABORT, 'a recorded deployment keeps its artefact, service and environment');
END;

-- Existing databases: fill it once from what is already recorded.
INSERT INTO cell_latest (service_id, environment_id, last_deployment_id, current_deployment_id)
SELECT c.service_id, c.environment_id,
    (SELECT d.id FROM deployments d
      WHERE d.service_id = c.service_id AND d.environment_id = c.environment_id
      ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1),
    (SELECT d.id FROM deployments d
      WHERE d.service_id = c.service_id AND d.environment_id = c.environment_id AND d.outcome = 'succeeded'
      ORDER BY d.started_at_ms DESC, d.id DESC LIMIT 1)
FROM (SELECT DISTINCT service_id, environment_id FROM deployments) c;
