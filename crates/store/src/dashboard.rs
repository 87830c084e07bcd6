//! The environment dashboard: every service against every stage, with what is
//! deployed, how the last deployment ended, and drift from the previous stage.

use chrono::{DateTime, Utc};
use release_desk_domain::{
    drift_between, Digest, Drift, Environment, Outcome, PreviousStage, Service, StageVersion,
};
use serde::Serialize;
use specta::Type;

use crate::error::Result;
use crate::records::outcome;
use crate::row::RowExt;
use crate::time::from_ms;
use crate::Store;

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub environments: Vec<Environment>,
    pub rows: Vec<DashboardRow>,
    pub generated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DashboardRow {
    pub service: Service,
    /// One cell per environment, in path-to-live order.
    pub cells: Vec<DashboardCell>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DashboardCell {
    pub environment: String,
    /// The version serving now: the newest successful deployment.
    pub deployed: Option<DeployedVersion>,
    /// The newest deployment of any outcome (may be the same one).
    pub last: Option<LastDeployment>,
    pub drift: Drift,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeployedVersion {
    pub version: String,
    pub digest: Digest,
    pub deployed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LastDeployment {
    pub id: u32,
    pub version: String,
    pub outcome: Outcome,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub failure_reason: Option<String>,
}

/// One statement computes every cell: the newest deployment and the newest
/// successful one per (service, environment) from `cell_latest` (kept by
/// triggers, see the migration), the previous
/// stage's version with LAG over the path-to-live order, and how many builds
/// separate the two with a range count on the artefacts index.
const DASHBOARD_SQL: &str = "
WITH cells AS (
    SELECT s.id AS service_id, e.id AS environment_id, e.position AS position,
           cl.last_deployment_id AS last_id, cl.current_deployment_id AS current_id
    FROM services s CROSS JOIN environments e
    LEFT JOIN cell_latest cl ON cl.service_id = s.id AND cl.environment_id = e.id
),
resolved AS (
    SELECT c.*, cur.finished_at_ms AS deployed_at_ms, ca.version AS cur_version, ca.digest AS cur_digest,
           ca.created_at_ms AS cur_built_ms
    FROM cells c
    LEFT JOIN deployments cur ON cur.id = c.current_id
    LEFT JOIN artefacts ca ON ca.id = cur.artefact_id
),
with_previous AS (
    SELECT r.*,
        LAG(r.environment_id) OVER w AS prev_environment_id,
        LAG(r.cur_version) OVER w AS prev_version,
        LAG(r.cur_digest) OVER w AS prev_digest,
        LAG(r.cur_built_ms) OVER w AS prev_built_ms
    FROM resolved r
    WINDOW w AS (PARTITION BY r.service_id ORDER BY r.position, r.environment_id)
)
SELECT p.service_id, p.environment_id,
       p.cur_version, p.cur_digest, p.cur_built_ms, p.deployed_at_ms,
       p.prev_version, p.prev_digest, p.prev_built_ms,
       CASE WHEN p.prev_built_ms > p.cur_built_ms THEN
           (SELECT COUNT(*) FROM artefacts a
             WHERE a.service_id = p.service_id
               AND a.created_at_ms > p.cur_built_ms AND a.created_at_ms <= p.prev_built_ms)
       END AS builds_between,
       l.id, la.version, l.outcome, l.started_at_ms, l.finished_at_ms, l.actor, l.failure_reason,
       p.prev_environment_id IS NULL AS first_stage
FROM with_previous p
LEFT JOIN deployments l ON l.id = p.last_id
LEFT JOIN artefacts la ON la.id = l.artefact_id
ORDER BY p.service_id, p.position, p.environment_id
";

impl Store {
    pub async fn dashboard(&self) -> Result<Dashboard> {
        // One read transaction: headers, rows and cells come from the same
        // snapshot even if the path to live is reordered meanwhile.
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let environments_rows =
            sqlx::query("SELECT id, key, name, production FROM environments ORDER BY position, id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        let mut environments = Vec::with_capacity(environments_rows.len());
        let mut environment_keys = std::collections::HashMap::new();
        for r in &environments_rows {
            let r = r.fields("an environment");
            let env = Environment::new(r.col(1)?, r.col(2)?, r.col::<i64>(3)? == 1)?;
            environment_keys.insert(r.col::<i64>(0)?, env.key.to_string());
            environments.push(env);
        }

        let service_rows = sqlx::query(
            "SELECT id, key, name, team, repository FROM services ORDER BY name COLLATE NOCASE, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        let mut rows = Vec::with_capacity(service_rows.len());
        let mut row_index = std::collections::HashMap::new();
        for r in &service_rows {
            let r = r.fields("a service");
            let service = Service::new(r.col(1)?, r.col(2)?, r.opt(3)?, r.opt(4)?)?;
            row_index.insert(r.col::<i64>(0)?, rows.len());
            rows.push(DashboardRow {
                service,
                cells: Vec::with_capacity(environments.len()),
            });
        }

        let cells = sqlx::query(DASHBOARD_SQL)
            .fetch_all(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        tx.rollback().await.map_err(|e| self.fail(e))?;
        for r in &cells {
            let r = r.fields("a deployment");
            // Same snapshot as the service list, so every cell has its row.
            let Some(&index) = row_index.get(&r.col::<i64>(0)?) else {
                continue;
            };
            let environment = environment_keys
                .get(&r.col::<i64>(1)?)
                .cloned()
                .unwrap_or_default();
            let current = stage_version(r.opt(2)?, r.opt(3)?, r.opt(4)?)?;
            let previous = stage_version(r.opt(6)?, r.opt(7)?, r.opt(8)?)?;
            let builds_between: Option<i64> = r.opt(9)?;
            let first_stage: bool = r.col(17)?;
            let previous = match (&previous, first_stage) {
                (_, true) => PreviousStage::None,
                (Some(version), false) => PreviousStage::Runs(version),
                (None, false) => PreviousStage::Empty,
            };
            let drift = drift_between(previous, current.as_ref(), |_, _| {
                crate::workspace::count(builds_between.unwrap_or(0))
            });
            let deployed = match (current, r.opt::<i64>(5)?) {
                (Some(v), Some(at)) => Some(DeployedVersion {
                    version: v.version,
                    digest: v.digest,
                    deployed_at: from_ms(at),
                }),
                _ => None,
            };
            let last = match r.opt::<i64>(10)? {
                Some(id) => Some(LastDeployment {
                    id: crate::workspace::count(id),
                    version: r.col(11)?,
                    outcome: outcome(self, r.col(12)?)?,
                    started_at: from_ms(r.col(13)?),
                    finished_at: r.opt::<i64>(14)?.map(from_ms),
                    actor: r.col(15)?,
                    failure_reason: r.opt(16)?,
                }),
                None => None,
            };
            rows[index].cells.push(DashboardCell {
                environment,
                deployed,
                last,
                drift,
            });
        }
        Ok(Dashboard {
            environments,
            rows,
            generated_at: Utc::now(),
        })
    }
}

fn stage_version(
    version: Option<String>,
    digest: Option<String>,
    built_ms: Option<i64>,
) -> Result<Option<StageVersion>> {
    match (version, digest, built_ms) {
        (Some(version), Some(digest), Some(built)) => Ok(Some(StageVersion {
            version,
            digest: Digest::parse(&digest)?,
            built_at: from_ms(built),
        })),
        _ => Ok(None),
    }
}
