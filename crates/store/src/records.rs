//! Recording artefacts and deployments one at a time, as providers report them.

use release_desk_domain::{
    check_registration, Artefact, ArtefactDraft, Deployment, DeploymentDraft, Leg, Outcome,
    Registration,
};
use sqlx::{Sqlite, Transaction};

use crate::error::{Result, StoreError};
use crate::row::RowExt;
use crate::time::{from_ms, to_ms};
use crate::Store;

pub(crate) async fn insert_artefact(
    tx: &mut Transaction<'_, Sqlite>,
    service_id: i64,
    a: &Artefact,
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO artefacts (service_id, name, version, digest, source_commit, build_url, created_at_ms, signature)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(service_id)
    .bind(a.name())
    .bind(a.version())
    .bind(a.digest().hex())
    .bind(a.source_commit())
    .bind(a.build_url())
    .bind(to_ms(a.created_at()))
    .bind(a.signature())
    .fetch_one(&mut **tx)
    .await?;
    for (position, c) in a.commits().iter().enumerate() {
        sqlx::query(
            "INSERT INTO artefact_commits (artefact_id, position, sha, summary, author) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(position as i64)
        .bind(&c.sha)
        .bind(&c.summary)
        .bind(&c.author)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}

pub(crate) async fn insert_deployment(
    tx: &mut Transaction<'_, Sqlite>,
    artefact_id: i64,
    service_id: i64,
    environment_id: i64,
    d: &Deployment,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO deployments (artefact_id, service_id, environment_id, leg, started_at_ms, finished_at_ms, actor, outcome, failure_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(artefact_id)
    .bind(service_id)
    .bind(environment_id)
    .bind(d.leg().map(Leg::as_str))
    .bind(to_ms(d.started_at()))
    .bind(d.finished_at().map(to_ms))
    .bind(d.actor())
    .bind(d.outcome().as_str())
    .bind(d.failure_reason())
    .fetch_one(&mut **tx)
    .await
}

impl Store {
    /// Records an artefact. Recording the same bytes twice is a no-op; the same
    /// version with a different digest is refused as a conflicting artefact.
    pub async fn record_artefact(&self, artefact: &Artefact) -> Result<Registration> {
        match self.try_record_artefact(artefact).await {
            // The same version was recorded concurrently after our read: decide
            // again against what is now recorded.
            Err(StoreError::Database(sqlx::Error::Database(db))) if db.is_unique_violation() => {
                self.try_record_artefact(artefact).await
            }
            other => other,
        }
    }

    async fn try_record_artefact(&self, artefact: &Artefact) -> Result<Registration> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let service_id = self
            .service_id(&mut tx, artefact.service().as_str())
            .await?;
        let recorded = self
            .find_artefact(
                &mut tx,
                service_id,
                artefact.service().as_str(),
                artefact.version(),
            )
            .await?;
        let registration = check_registration(recorded.as_ref().map(|(_, a)| a), artefact)?;
        if registration == Registration::New {
            insert_artefact(&mut tx, service_id, artefact)
                .await
                .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(registration)
    }

    /// Records a deployment of an artefact that must already be recorded.
    pub async fn record_deployment(&self, draft: DeploymentDraft) -> Result<i64> {
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        let service_id = self.service_id(&mut tx, draft.service.as_str()).await?;
        let environment_id: i64 = sqlx::query_scalar("SELECT id FROM environments WHERE key = ?")
            .bind(draft.environment.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?
            .ok_or_else(|| StoreError::UnknownEnvironment(draft.environment.to_string()))?;
        let (artefact_id, artefact) = self
            .find_artefact(
                &mut tx,
                service_id,
                draft.service.as_str(),
                draft.version.trim(),
            )
            .await?
            .ok_or_else(|| StoreError::UnknownArtefact {
                service: draft.service.to_string(),
                version: draft.version.clone(),
            })?;
        let deployment = Deployment::new(draft, &artefact)?;
        let id = insert_deployment(
            &mut tx,
            artefact_id,
            service_id,
            environment_id,
            &deployment,
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(id)
    }

    async fn service_id(&self, tx: &mut Transaction<'_, Sqlite>, key: &str) -> Result<i64> {
        sqlx::query_scalar("SELECT id FROM services WHERE key = ?")
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| self.fail(e))?
            .ok_or_else(|| StoreError::UnknownService(key.to_owned()))
    }

    async fn find_artefact(
        &self,
        tx: &mut Transaction<'_, Sqlite>,
        service_id: i64,
        service_key: &str,
        version: &str,
    ) -> Result<Option<(i64, Artefact)>> {
        let row = sqlx::query(
            "SELECT id, name, version, digest, source_commit, build_url, created_at_ms, signature
             FROM artefacts WHERE service_id = ? AND version = ?",
        )
        .bind(service_id)
        .bind(version)
        .fetch_optional(&mut **tx)
        .await
        .map_err(|e| self.fail(e))?;
        let Some(r) = row else { return Ok(None) };
        let r = r.fields("an artefact");
        let artefact = Artefact::new(ArtefactDraft {
            service: release_desk_domain::Slug::parse(service_key)?,
            name: r.col(1)?,
            version: r.col(2)?,
            digest: r.col(3)?,
            source_commit: r.col(4)?,
            build_url: r.opt(5)?,
            created_at: from_ms(r.col(6)?),
            signature: r.opt(7)?,
            commits: Vec::new(),
        })?;
        Ok(Some((r.col(0)?, artefact)))
    }
}

/// Reads an outcome column. The CHECK constraint rules out anything else, so
/// another value means the file was edited outside the app: say so.
pub(crate) fn outcome(store: &Store, value: &str) -> Result<Outcome> {
    Outcome::parse(value).ok_or_else(|| StoreError::Corrupt {
        file: store.file.clone(),
        detail: format!("a deployment has the unknown outcome '{value}'"),
    })
}
