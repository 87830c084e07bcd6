//! Bindings (service × environment → connection and its settings), kept in
//! SQLite: added and removed by release managers only, audited, and never
//! above a connection's reach.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use release_desk_access::{may, Action};
use release_desk_changes::Profile;
use release_desk_connections::{Binding, BindingDraft, BindingId, ConnectionId};
use release_desk_domain::Slug;
use serde_json::json;

use crate::changes::refused;
use crate::connections::{connection_error, unknown};
use crate::error::{malformed, Result};
use crate::promotions::setup::ids;
use crate::row::RowExt;
use crate::time::to_ms;
use crate::Store;

const SELECT: &str = "SELECT b.id, s.key, e.key, b.connection_id, b.settings
     FROM bindings b JOIN services s ON s.id = b.service_id
     JOIN environments e ON e.id = b.environment_id";

fn binding_from(row: &sqlx::sqlite::SqliteRow) -> Result<Binding> {
    let f = row.fields("a binding");
    let settings: String = f.col(4)?;
    Ok(Binding {
        id: BindingId(f.col(0)?),
        service: Slug::parse(f.col(1)?)?,
        environment: Slug::parse(f.col(2)?)?,
        connection: ConnectionId(f.col(3)?),
        settings: serde_json::from_str::<BTreeMap<String, String>>(&settings)
            .map_err(|e| malformed("a binding's settings")(e.to_string()))?,
    })
}

impl Store {
    /// Every binding, by service, then stage order.
    pub async fn bindings(&self) -> Result<Vec<Binding>> {
        let rows = sqlx::query(&format!("{SELECT} ORDER BY s.key, e.position, b.id"))
            .fetch_all(self.pool())
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(binding_from).collect()
    }

    /// The bindings of one connection.
    pub async fn bindings_of(&self, connection: ConnectionId) -> Result<Vec<Binding>> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE b.connection_id = ? ORDER BY s.key, e.position, b.id"
        ))
        .bind(connection.0)
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter().map(binding_from).collect()
    }

    /// The binding through whose pipeline a service deploys in an
    /// environment (the one naming a workflow), with its connection.
    pub async fn pipeline_binding(
        &self,
        service: &Slug,
        environment: &Slug,
    ) -> Result<Option<(Binding, release_desk_connections::Connection)>> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE s.key = ? AND e.key = ?
               AND json_extract(b.settings, '$.workflow') IS NOT NULL ORDER BY b.id LIMIT 1"
        ))
        .bind(service.as_str())
        .bind(environment.as_str())
        .fetch_optional(self.pool())
        .await
        .map_err(|e| self.fail(e))?;
        let Some(row) = row else { return Ok(None) };
        let binding = binding_from(&row)?;
        let connection = self
            .connection(binding.connection)
            .await?
            .ok_or_else(|| unknown(binding.connection))?;
        Ok(Some((binding, connection)))
    }

    /// Binds a service's environment to a connection (release managers
    /// only; audited). Refused above the connection's reach.
    pub async fn add_binding(
        &self,
        draft: BindingDraft,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Binding> {
        may(by, Action::ManageConnections)?;
        let path = self
            .path_to_live()
            .await?
            .ok_or_else(|| refused("no_workspace", "load or create a workspace first".into()))?;
        let connection = self
            .connection(draft.connection)
            .await?
            .ok_or_else(|| unknown(draft.connection))?;
        let settings = draft
            .validate(&connection, &path)
            .map_err(connection_error)?;
        let text = serde_json::to_string(&settings)
            .map_err(|e| malformed("a binding's settings")(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let (service_id, environment_id) = ids(&mut tx, &draft.service, &draft.environment)
            .await
            .map_err(|e| self.refail(e))?;
        if settings.contains_key("workflow") {
            // Two pipelines for one cell would make "promote" ambiguous.
            let other: Option<String> = sqlx::query_scalar(
                "SELECT c.name FROM bindings b JOIN connections c ON c.id = b.connection_id
                 WHERE b.service_id = ? AND b.environment_id = ?
                   AND json_extract(b.settings, '$.workflow') IS NOT NULL LIMIT 1",
            )
            .bind(service_id)
            .bind(environment_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
            if let Some(other) = other {
                return Err(refused(
                    "pipeline_exists",
                    format!(
                        "{} in {} already deploys through a workflow of {other}: remove that binding first, so promoting there stays one thing",
                        draft.service, draft.environment
                    ),
                ));
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bindings (service_id, environment_id, connection_id, settings, created_at_ms)
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(service_id)
        .bind(environment_id)
        .bind(connection.id.0)
        .bind(&text)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => refused(
                "binding_exists",
                format!(
                    "{} in {} is already bound to {}: remove that binding to change it",
                    draft.service, draft.environment, connection.name
                ),
            ),
            _ => self.fail(e),
        })?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "binding.added",
            format!("binding:{id}"),
            json!({
                "service": draft.service,
                "environment": draft.environment,
                "connection": connection.name,
                "settings": settings,
            }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(Binding {
            id: BindingId(id),
            service: draft.service,
            environment: draft.environment,
            connection: connection.id,
            settings,
        })
    }

    /// Removes a binding and what was synced through it (release managers
    /// only; audited with what it was).
    pub async fn remove_binding(
        &self,
        id: BindingId,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Binding> {
        may(by, Action::ManageConnections)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("{SELECT} WHERE b.id = ?"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let gone = row.as_ref().map(binding_from).transpose()?.ok_or_else(|| {
            refused(
                "unknown_binding",
                format!("there is no binding #{}: reload the list", id.0),
            )
        })?;
        sqlx::query(
            "DELETE FROM deployments WHERE connection_id = ?
               AND service_id = (SELECT id FROM services WHERE key = ?)
               AND environment_id = (SELECT id FROM environments WHERE key = ?)",
        )
        .bind(gone.connection.0)
        .bind(gone.service.as_str())
        .bind(gone.environment.as_str())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        sqlx::query("DELETE FROM bindings WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "binding.removed",
            format!("binding:{}", id.0),
            json!({
                "service": gone.service,
                "environment": gone.environment,
                "connection": gone.connection.0,
                "settings": gone.settings,
            }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(gone)
    }
}
