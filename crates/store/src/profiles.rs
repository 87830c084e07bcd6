//! Local profiles: who is deciding. Creating one is audited; which one is in
//! use is a preference of this machine.

use chrono::{DateTime, Utc};
use release_desk_audit::EntryDraft;
use release_desk_changes::{Profile, ProfileDraft, ProfileId, Role};

use crate::audit::append;
use crate::error::{Result, StoreError};
use crate::row::RowExt;
use crate::time::to_ms;
use crate::Store;

const CURRENT_PROFILE: &str = "current_profile";

pub(crate) fn profile_from(r: &sqlx::sqlite::SqliteRow) -> Result<Profile> {
    let r = r.fields("a profile");
    let roles: Vec<Role> = serde_json::from_str(r.col(3)?).map_err(|e| StoreError::Malformed {
        what: "a profile's roles",
        detail: e.to_string(),
    })?;
    Ok(Profile {
        id: ProfileId(r.col(0)?),
        name: r.col(1)?,
        email: r.col(2)?,
        roles,
    })
}

impl Store {
    /// Creates a profile (audited). Choosing it is [`Store::use_profile`].
    pub async fn create_profile(&self, draft: ProfileDraft, now: DateTime<Utc>) -> Result<Profile> {
        let valid = draft.validate()?;
        let roles = serde_json::to_string(&valid.roles).map_err(|e| StoreError::Malformed {
            what: "roles",
            detail: e.to_string(),
        })?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO profiles (name, email, roles, created_at_ms) VALUES (?, ?, ?, ?) RETURNING id",
        )
        .bind(&valid.name)
        .bind(&valid.email)
        .bind(&roles)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::DuplicateProfile(valid.email.clone())
            }
            _ => self.fail(e),
        })?;
        let detail =
            serde_json::json!({ "name": valid.name, "email": valid.email, "roles": valid.roles });
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: release_desk_changes::actor_label(&valid.name, &valid.email, ProfileId(id)),
                action: "profile.created".into(),
                subject: format!("profile:{id}"),
                detail: detail.to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(Profile {
            id: ProfileId(id),
            name: valid.name,
            email: valid.email,
            roles: valid.roles,
        })
    }

    pub async fn profiles(&self) -> Result<Vec<Profile>> {
        let rows = sqlx::query("SELECT id, name, email, roles FROM profiles ORDER BY name, id")
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(profile_from).collect()
    }

    pub async fn profile(&self, id: ProfileId) -> Result<Profile> {
        let row = sqlx::query("SELECT id, name, email, roles FROM profiles WHERE id = ?")
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.fail(e))?;
        match row {
            Some(r) => profile_from(&r),
            None => Err(StoreError::UnknownProfile(id.0)),
        }
    }

    /// The profile in use on this machine, if one was chosen and still exists.
    pub async fn current_profile(&self) -> Result<Option<Profile>> {
        let Some(id) = self.preference(CURRENT_PROFILE).await? else {
            return Ok(None);
        };
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        match self.profile(ProfileId(id)).await {
            Ok(p) => Ok(Some(p)),
            Err(StoreError::UnknownProfile(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Switches the profile in use. The profile must exist. Audited (by
    /// profile id and email, since names need not be unique): a local profile
    /// proves nothing about who sits at the keyboard, so the log at least
    /// shows every switch between them.
    pub async fn use_profile(&self, id: ProfileId, now: DateTime<Utc>) -> Result<Profile> {
        let profile = self.profile(id).await?;
        let previous = self.current_profile().await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO preferences (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(CURRENT_PROFILE)
            .bind(id.0.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let detail = serde_json::json!({
            "profileId": profile.id.0,
            "email": profile.email,
            "roles": profile.roles,
            "from": previous.map(|p| serde_json::json!({ "profileId": p.id.0, "email": p.email })),
        });
        append(
            &mut tx,
            EntryDraft {
                at: now,
                actor: profile.actor(),
                action: "profile.selected".into(),
                subject: format!("profile:{}", profile.id.0),
                detail: detail.to_string(),
            },
        )
        .await
        .map_err(|e| self.fail(e))?;
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(profile)
    }
}
