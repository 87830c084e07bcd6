//! The store's one error type. Each variant has a stable code for the UI.

use release_desk_domain::DomainError;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("the database file {file} is damaged or is not a Release Desk database ({detail}). Move it aside to start fresh; the file is kept so nothing is lost")]
    Corrupt { file: PathBuf, detail: String },

    #[error("the database file {file} was written by a newer version of Release Desk (schema {found}, this version understands up to {supported}). Update Release Desk, or move the file aside to start fresh")]
    NewerSchema {
        file: PathBuf,
        found: i64,
        supported: i64,
    },

    #[error("cannot open the database file {file}: {detail}. Check that the folder exists and is writable, or set RELEASE_DESK_DATA_DIR to another folder")]
    Unavailable { file: PathBuf, detail: String },

    #[error("could not back up {file} before upgrading it ({detail}); the upgrade was not attempted and the file is unchanged")]
    Backup { file: PathBuf, detail: String },

    #[error("upgrading the database failed: {detail}. A copy taken before the upgrade is next to the database file")]
    Migration { detail: String },

    #[error(transparent)]
    Invalid(#[from] DomainError),

    #[error("unknown artefact: {service} {version} has not been recorded")]
    UnknownArtefact { service: String, version: String },

    #[error("unknown service '{0}'")]
    UnknownService(String),

    #[error("unknown environment '{0}'")]
    UnknownEnvironment(String),

    #[error(
        "this workspace already has data; a workspace can only be loaded into an empty database"
    )]
    WorkspaceNotEmpty,

    /// Boxed: the change rules' errors are large and rare, and every store
    /// result would otherwise carry their size.
    #[error(transparent)]
    Change(Box<release_desk_changes::ChangeError>),

    /// Boxed for the same reason as `Change`.
    #[error(transparent)]
    Calendar(Box<release_desk_calendar::CalendarError>),

    #[error("unknown calendar rule {0}: it may have been deleted; reload the calendar")]
    UnknownCalendarRule(i64),

    #[error("unknown change record CHG-{0:04}")]
    UnknownChange(i64),

    #[error("unknown profile {0}: it may have been removed; choose another profile")]
    UnknownProfile(i64),

    #[error("a profile with the email {0} already exists: choose it instead of creating another")]
    DuplicateProfile(String),

    #[error("{reference} changed while you were looking at it (you saw revision {seen}, it is now at {current}): someone else decided on it or edited it. Reload it and try again")]
    StaleChange {
        reference: String,
        seen: u32,
        current: u32,
    },

    #[error(
        "{what} in the database is malformed ({detail}); the file may have been edited by hand"
    )]
    Malformed { what: &'static str, detail: String },

    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl StoreError {
    /// A stable, machine-readable code the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Corrupt { .. } => "database_corrupt",
            Self::NewerSchema { .. } => "database_newer",
            Self::Unavailable { .. } => "database_unavailable",
            Self::Backup { .. } => "database_backup_failed",
            Self::Migration { .. } => "database_migration_failed",
            Self::Invalid(DomainError::ProductionNotLast { .. }) => "production_not_last",
            Self::Invalid(_) => "invalid_input",
            Self::UnknownArtefact { .. } => "unknown_artefact",
            Self::UnknownService(_) => "unknown_service",
            Self::UnknownEnvironment(_) => "unknown_environment",
            Self::WorkspaceNotEmpty => "workspace_not_empty",
            Self::Change(e) => e.code(),
            Self::Calendar(e) => e.code(),
            Self::UnknownCalendarRule(_) => "unknown_calendar_rule",
            Self::UnknownChange(_) => "unknown_change",
            Self::UnknownProfile(_) => "unknown_profile",
            Self::DuplicateProfile(_) => "duplicate_profile",
            Self::StaleChange { .. } => "stale_change",
            Self::Malformed { .. } => "malformed_data",
            Self::Database(_) => "database_error",
        }
    }

    /// Whether the database file itself cannot be used, so the app must offer
    /// to move it aside rather than retry.
    pub fn is_unusable_file(&self) -> bool {
        matches!(self, Self::Corrupt { .. } | Self::NewerSchema { .. })
    }
}

impl From<release_desk_changes::ChangeError> for StoreError {
    fn from(err: release_desk_changes::ChangeError) -> Self {
        Self::Change(Box::new(err))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(err)
    }
}

/// Builds a [`StoreError::Malformed`] for a value read back from the file.
pub(crate) fn malformed(what: &'static str) -> impl Fn(String) -> StoreError {
    move |detail| StoreError::Malformed { what, detail }
}

/// SQLite's primary result codes for a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB).
pub(crate) fn is_corruption(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // Extended codes carry the primary code in their low byte.
            let primary = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(-1);
            primary == 11 || primary == 26
        }
        _ => false,
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
