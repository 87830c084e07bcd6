//! Connections to providers, kept in SQLite: added and removed by release
//! managers only, each change audited. What a connection is and where it may
//! reach is `release_desk_connections`'s to say.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use release_desk_access::{may, Action};
use release_desk_audit::EntryDraft;
use release_desk_changes::Profile;
use release_desk_connections::{
    Connection, ConnectionDraft, ConnectionError, ConnectionId, ConnectionKind,
};
use release_desk_domain::Slug;
use serde_json::json;

use crate::audit::append;
use crate::changes::refused;
use crate::error::{malformed, Result, StoreError};
use crate::row::RowExt;
use crate::time::to_ms;
use crate::Store;

/// A connection rule's refusal as a store error.
pub(crate) fn connection_error(e: ConnectionError) -> StoreError {
    match e {
        ConnectionError::Invalid { field, reason } => {
            release_desk_changes::ChangeError::Invalid { field, reason }.into()
        }
        ConnectionError::OutOfReach(message) => refused("connection_out_of_reach", message),
    }
}

const COLUMNS: &str = "id, kind, name, base_url, settings, reach";

fn connection_from(row: &sqlx::sqlite::SqliteRow) -> Result<Connection> {
    let f = row.fields("a connection");
    let kind: String = f.col(1)?;
    let settings: String = f.col(4)?;
    let reach: Option<String> = f.opt(5)?;
    Ok(Connection {
        id: ConnectionId(f.col(0)?),
        kind: ConnectionKind::parse(&kind)
            .ok_or_else(|| malformed("a connection's kind")(kind.clone()))?,
        name: f.col(2)?,
        base_url: f.col(3)?,
        settings: serde_json::from_str::<BTreeMap<String, String>>(&settings)
            .map_err(|e| malformed("a connection's settings")(e.to_string()))?,
        reach: reach
            .map(|r| Slug::parse(&r).map_err(|e| malformed("a connection's reach")(e.to_string())))
            .transpose()?,
    })
}

impl Store {
    /// Every connection, by name.
    pub async fn connections(&self) -> Result<Vec<Connection>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM connections ORDER BY name, id"
        ))
        .fetch_all(self.pool())
        .await
        .map_err(|e| self.fail(e))?;
        rows.iter().map(connection_from).collect()
    }

    /// Adds a connection (release managers only; audited). Its secret is
    /// stored in the keyring separately.
    pub async fn add_connection(
        &self,
        draft: ConnectionDraft,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Connection> {
        may(by, Action::ManageConnections)?;
        let path = self.path_to_live().await?.ok_or_else(|| {
            refused(
                "no_workspace",
                "load or create a workspace first: a connection is placed against its path to live"
                    .into(),
            )
        })?;
        let valid = draft.validate(&path).map_err(connection_error)?;
        let settings = serde_json::to_string(&valid.settings)
            .map_err(|e| malformed("a connection's settings")(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO connections (kind, name, base_url, settings, reach, created_at_ms)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(valid.kind.key())
        .bind(&valid.name)
        .bind(&valid.base_url)
        .bind(&settings)
        .bind(valid.reach.as_ref().map(Slug::as_str))
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => refused(
                "connection_name_taken",
                format!(
                    "a connection is already called '{}': choose another name",
                    valid.name
                ),
            ),
            _ => self.fail(e),
        })?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: "connection.added".into(),
                subject: format!("connection:{id}"),
                detail: json!({
                    "kind": valid.kind.key(),
                    "name": valid.name,
                    "baseUrl": valid.base_url,
                    "settings": valid.settings,
                    "reach": valid.reach,
                })
                .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(Connection {
            id: ConnectionId(id),
            kind: valid.kind,
            name: valid.name,
            base_url: valid.base_url,
            settings: valid.settings,
            reach: valid.reach,
        })
    }

    /// Removes a connection (release managers only; audited, with what it
    /// was). The caller removes its keyring secret.
    pub async fn remove_connection(
        &self,
        id: ConnectionId,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Connection> {
        may(by, Action::ManageConnections)?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let Some(row) = row else {
            return Err(refused(
                "unknown_connection",
                format!(
                    "there is no connection #{}: it may have been removed already; reload the list",
                    id.0
                ),
            ));
        };
        let gone = connection_from(&row)?;
        sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: "connection.removed".into(),
                subject: format!("connection:{}", id.0),
                detail:
                    json!({ "kind": gone.kind.key(), "name": gone.name, "baseUrl": gone.base_url })
                        .to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(gone)
    }
}

impl Store {
    /// Records that `by` stored (`set`) or removed a connection's secret in
    /// the OS keyring; the secret itself never comes here. The caller checks
    /// [`Action::ManageConnections`] before touching the keyring.
    pub async fn audit_connection_secret(
        &self,
        id: ConnectionId,
        set: bool,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::ManageConnections)?;
        let mut tx = self.begin_write().await?;
        let name: Option<String> = sqlx::query_scalar("SELECT name FROM connections WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let Some(name) = name else {
            return Err(refused(
                "unknown_connection",
                format!(
                    "there is no connection #{}: it may have been removed; reload the list",
                    id.0
                ),
            ));
        };
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: by.actor(),
                action: if set {
                    "connection.secret_set"
                } else {
                    "connection.secret_removed"
                }
                .into(),
                subject: format!("connection:{}", id.0),
                detail: json!({ "name": name }).to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// Whether a connection with this id exists.
    pub async fn connection(&self, id: ConnectionId) -> Result<Option<Connection>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?"))
            .bind(id.0)
            .fetch_optional(self.pool())
            .await
            .map_err(|e| self.fail(e))?;
        row.as_ref().map(connection_from).transpose()
    }
}
