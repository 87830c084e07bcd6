//! The workspace as a whole: loading one into an empty database, its path to
//! live and its preferences.

use chrono::{DateTime, Utc};
use release_desk_changes::Profile;
use release_desk_domain::{Environment, PathToLive, Slug, WorkspaceSeed};
use serde::Serialize;
use specta::Type;
use std::collections::HashMap;

use crate::error::{Result, StoreError};
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::Store;

/// What the app shows about the open workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceInfo {
    pub name: String,
    pub demo: bool,
    pub created_at: DateTime<Utc>,
    pub services: u32,
    pub environments: u32,
    pub deployments: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    pub services: u32,
    pub environments: u32,
    pub artefacts: u32,
    pub deployments: u32,
}

impl Store {
    /// The open workspace, or `None` for a fresh, empty database.
    pub async fn workspace(&self) -> Result<Option<WorkspaceInfo>> {
        let row = sqlx::query(
            "SELECT name, demo, created_at_ms,
                    (SELECT COUNT(*) FROM services),
                    (SELECT COUNT(*) FROM environments),
                    (SELECT COUNT(*) FROM deployments)
             FROM workspace WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        row.map(|r| {
            let r = r.fields("the workspace");
            Ok(WorkspaceInfo {
                name: r.col(0)?,
                demo: r.col::<i64>(1)? == 1,
                created_at: from_ms(r.col(2)?),
                services: count(r.col(3)?),
                environments: count(r.col(4)?),
                deployments: count(r.col(5)?),
            })
        })
        .transpose()
    }

    /// Loads a whole workspace into an empty database in one transaction:
    /// either all of it is stored or none of it.
    pub async fn load_workspace(
        &self,
        seed: &WorkspaceSeed,
        now: DateTime<Utc>,
    ) -> Result<LoadSummary> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workspace")
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        if existing > 0 {
            return Err(StoreError::WorkspaceNotEmpty);
        }
        sqlx::query("INSERT INTO workspace (id, name, demo, created_at_ms) VALUES (1, ?, ?, ?)")
            .bind(&seed.name)
            .bind(seed.demo)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                // Another load committed between our check and this insert.
                sqlx::Error::Database(db) if db.is_unique_violation() => {
                    StoreError::WorkspaceNotEmpty
                }
                _ => self.fail(e),
            })?;

        let mut environment_ids = HashMap::new();
        for (position, env) in seed.path_to_live.stages().iter().enumerate() {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO environments (key, name, production, position) VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(env.key.as_str())
            .bind(&env.name)
            .bind(env.production)
            .bind(position as i64)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            environment_ids.insert(env.key.clone(), id);
        }

        let mut service_ids = HashMap::new();
        for service in &seed.services {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO services (key, name, team, repository) VALUES (?, ?, ?, ?) RETURNING id",
            )
            .bind(service.key.as_str())
            .bind(&service.name)
            .bind(&service.team)
            .bind(&service.repository)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            service_ids.insert(service.key.clone(), id);
        }

        let mut artefact_ids: HashMap<(Slug, String), (i64, i64)> = HashMap::new();
        for artefact in &seed.artefacts {
            let service_id = *service_ids
                .get(artefact.service())
                .ok_or_else(|| StoreError::UnknownService(artefact.service().to_string()))?;
            let id = crate::records::insert_artefact(&mut tx, service_id, artefact)
                .await
                .map_err(|e| self.fail(e))?;
            artefact_ids.insert(
                (artefact.service().clone(), artefact.version().to_owned()),
                (id, service_id),
            );
        }

        for deployment in &seed.deployments {
            let (artefact_id, service_id) = *artefact_ids
                .get(&(
                    deployment.service().clone(),
                    deployment.version().to_owned(),
                ))
                .ok_or_else(|| StoreError::UnknownArtefact {
                    service: deployment.service().to_string(),
                    version: deployment.version().to_owned(),
                })?;
            let environment_id =
                *environment_ids
                    .get(deployment.environment())
                    .ok_or_else(|| {
                        StoreError::UnknownEnvironment(deployment.environment().to_string())
                    })?;
            crate::records::insert_deployment(
                &mut tx,
                artefact_id,
                service_id,
                environment_id,
                deployment,
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(LoadSummary {
            services: count(seed.services.len() as i64),
            environments: count(seed.path_to_live.stages().len() as i64),
            artefacts: count(seed.artefacts.len() as i64),
            deployments: count(seed.deployments.len() as i64),
        })
    }

    /// The stages of the path to live, in order.
    pub async fn path_to_live(&self) -> Result<Option<PathToLive>> {
        let rows =
            sqlx::query("SELECT key, name, production FROM environments ORDER BY position, id")
                .fetch_all(&self.pool)
                .await
                .map_err(|e| self.fail(e))?;
        if rows.is_empty() {
            return Ok(None);
        }
        let stages = rows
            .iter()
            .map(|r| {
                let r = r.fields("an environment");
                Ok(Environment::new(
                    r.col(0)?,
                    r.col(1)?,
                    r.col::<i64>(2)? == 1,
                )?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(PathToLive::new(stages)?))
    }

    /// Puts the stages in a new order: a release manager's audited decision,
    /// with the order before and after. The domain checks it is a permutation
    /// of the current stages with production stages last; it is refused while
    /// any promotion is unfinished (its gates were judged on the old order).
    /// The new positions are written in one transaction.
    pub async fn reorder_environments(
        &self,
        keys: &[Slug],
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<PathToLive> {
        release_desk_access::may(by, release_desk_access::Action::ReorderPath)?;
        let current = self.path_to_live().await?.ok_or_else(|| {
            StoreError::UnknownEnvironment(keys.first().map(|k| k.to_string()).unwrap_or_default())
        })?;
        let reordered = current.reordered(keys)?;
        let mut tx = self.begin_write().await?;
        let unfinished: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM promotions WHERE phase IN ('running', 'switching_back')",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        if unfinished > 0 {
            return Err(crate::changes::refused(
                "promotion_running",
                format!(
                    "the path to live cannot be reordered while {unfinished} promotion(s) are unfinished: their gates were judged on the current order. Wait for them to finish"
                ),
            ));
        }
        for (position, stage) in reordered.stages().iter().enumerate() {
            sqlx::query("UPDATE environments SET position = ? WHERE key = ?")
                .bind(position as i64)
                .bind(stage.key.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        let order = |p: &PathToLive| -> Vec<String> {
            p.stages().iter().map(|s| s.key.to_string()).collect()
        };
        crate::audit::append(
            &mut tx,
            release_desk_audit::EntryDraft {
                at: now,
                actor: by.actor(),
                action: "path_to_live.reordered".into(),
                subject: "path-to-live".into(),
                detail:
                    serde_json::json!({ "before": order(&current), "after": order(&reordered) })
                        .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(reordered)
    }

    pub async fn preference(&self, key: &str) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT value FROM preferences WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))
    }

    pub async fn set_preference(&self, key: &str, value: &str) -> Result<()> {
        sqlx::query("INSERT INTO preferences (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}

/// SQLite counts are non-negative and far below `u32::MAX` for any workspace a
/// person manages; saturate rather than wrap if an edited file says otherwise.
pub(crate) fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}
