//! Connections to providers, kept in SQLite: added and removed by release
//! managers only, each change audited. What a connection is and where it may
//! reach is `release_desk_connections`'s to say.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use release_desk_access::{may, Action};
use release_desk_changes::Profile;
use release_desk_connections::{
    Connection, ConnectionDraft, ConnectionError, ConnectionId, ConnectionKind,
};
use release_desk_domain::Slug;
use serde_json::json;

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
        self.audit_setup(
            &mut tx,
            by,
            now,
            "connection.added",
            format!("connection:{id}"),
            json!({
                "kind": valid.kind.key(),
                "name": valid.name,
                "baseUrl": valid.base_url,
                "settings": valid.settings,
                "reach": valid.reach,
            }),
        )
        .await?;
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
        let gone = find(&mut tx, id)
            .await
            .map_err(|e| self.refail(e))?
            .ok_or_else(|| unknown(id))?;
        sqlx::query("DELETE FROM connections WHERE id = ?")
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "connection.removed",
            format!("connection:{}", id.0),
            json!({ "kind": gone.kind.key(), "name": gone.name, "baseUrl": gone.base_url }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(gone)
    }
}

impl Store {
    /// Records that `by` stored a connection's secret in the OS keyring; the
    /// secret itself never comes here. The caller checks
    /// [`Action::ManageConnections`] before touching the keyring. (Removing
    /// the secret goes with removing the connection, audited there.)
    pub async fn audit_connection_secret(
        &self,
        id: ConnectionId,
        by: &Profile,
        now: DateTime<Utc>,
    ) -> Result<()> {
        may(by, Action::ManageConnections)?;
        let mut tx = self.begin_write().await?;
        let connection = find(&mut tx, id)
            .await
            .map_err(|e| self.refail(e))?
            .ok_or_else(|| unknown(id))?;
        // A new token may be another account's: forget the one the old
        // token proved until the new one is tested.
        sqlx::query(
            "UPDATE connections SET provider_login = NULL, checked_at_ms = NULL WHERE id = ?",
        )
        .bind(id.0)
        .execute(&mut *tx)
        .await
        .map_err(|e| self.fail(e))?;
        self.audit_setup(
            &mut tx,
            by,
            now,
            "connection.secret_set",
            format!("connection:{}", id.0),
            json!({ "name": connection.name }),
        )
        .await?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(())
    }

    /// The connection with this id, if there is one.
    pub async fn connection(&self, id: ConnectionId) -> Result<Option<Connection>> {
        let mut conn = self.pool().acquire().await.map_err(|e| self.fail(e))?;
        find(&mut conn, id).await.map_err(|e| self.refail(e))
    }
}

async fn find(conn: &mut sqlx::SqliteConnection, id: ConnectionId) -> Result<Option<Connection>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM connections WHERE id = ?"))
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?
        .as_ref()
        .map(connection_from)
        .transpose()
}

pub(crate) fn unknown(id: ConnectionId) -> StoreError {
    refused(
        "unknown_connection",
        format!(
            "there is no connection #{}: it may have been removed already; reload the list",
            id.0
        ),
    )
}
