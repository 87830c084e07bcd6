//! Opening the database file safely: refuse a newer or damaged file with a
//! clear error, copy the file aside before migrating it, and move an unusable
//! file aside on request. A database file is never deleted.

use chrono::Utc;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{is_corruption, Result, StoreError};
use crate::row::RowExt;
use crate::Store;

pub(crate) static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The file name of the database inside the data directory.
pub const DATABASE_FILE: &str = "release-desk.sqlite3";

/// What happened while opening, for the log and the settings screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Migrations applied by this open.
    pub applied: Vec<i64>,
    /// The copy taken before migrating an existing file, if one was needed.
    pub backup: Option<PathBuf>,
}

/// The newest schema version this build understands.
pub fn supported_schema() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

impl Store {
    /// Opens (creating if missing) the database at `file` and brings its
    /// schema up to date.
    pub async fn open(file: &Path) -> Result<(Store, OpenReport)> {
        let unavailable = |e: std::io::Error| StoreError::Unavailable {
            file: file.to_path_buf(),
            detail: e.to_string(),
        };
        if let Some(dir) = file.parent() {
            private::create_dir_all(dir).map_err(unavailable)?;
        }
        // Who approved what is nobody else's business: the file is created
        // for its owner alone, and SQLite gives its WAL and journal the
        // database file's mode.
        private::create_file_if_missing(file).map_err(unavailable)?;
        let options = SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options)
            .await
            .map_err(|e| classify_open_error(file, e))?;

        match prepare_schema(&pool, file).await {
            Ok(report) => Ok((
                Store {
                    pool,
                    file: file.to_path_buf(),
                },
                report,
            )),
            Err(err) => {
                pool.close().await;
                Err(err)
            }
        }
    }
}

async fn prepare_schema(pool: &SqlitePool, file: &Path) -> Result<OpenReport> {
    // Reading the schema is the first touch of the file's pages: a file that is
    // not a database, or whose header is damaged, fails here.
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(pool)
            .await
            .map_err(|e| classify_open_error(file, e))?;
    let has_migrations = tables.iter().any(|t| t == "_sqlx_migrations");
    if !has_migrations && !tables.is_empty() {
        return Err(StoreError::Corrupt {
            file: file.to_path_buf(),
            detail: format!(
                "it holds tables ({}) but no Release Desk schema",
                tables.join(", ")
            ),
        });
    }

    let applied: Vec<i64> = if has_migrations {
        sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version")
            .fetch_all(pool)
            .await
            .map_err(|e| classify_open_error(file, e))?
            .iter()
            .map(|r| r.fields("the record of applied upgrades").col::<i64>(0))
            .collect::<Result<_>>()
            // Without a readable record of its upgrades the file cannot be
            // opened at all, so it is unusable and may be moved aside.
            .map_err(|e| match e {
                StoreError::Malformed { what, detail } => StoreError::Corrupt {
                    file: file.to_path_buf(),
                    detail: format!("{what} is malformed: {detail}"),
                },
                other => other,
            })?
    } else {
        Vec::new()
    };

    let supported = supported_schema();
    if let Some(&found) = applied.iter().max() {
        if found > supported {
            return Err(StoreError::NewerSchema {
                file: file.to_path_buf(),
                found,
                supported,
            });
        }
    }

    let pending: Vec<i64> = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if pending.is_empty() {
        return Ok(OpenReport {
            applied: Vec::new(),
            backup: None,
        });
    }

    let backup = if applied.is_empty() {
        None // a brand-new file: nothing to lose
    } else {
        Some(backup_before_migrating(pool, file, supported).await?)
    };

    MIGRATOR
        .run(pool)
        .await
        .map_err(|e| StoreError::Migration {
            detail: e.to_string(),
        })?;
    tracing::info!(file = %file.display(), ?pending, backup = ?backup, "database schema upgraded");
    Ok(OpenReport {
        applied: pending,
        backup,
    })
}

/// Takes a consistent copy with `VACUUM INTO`, which is safe while in WAL mode
/// (a plain file copy could miss pages still in the write-ahead log).
///
/// The copy is written under a temporary name and renamed once whole, so a
/// copy cut short (the app killed mid-copy) is never taken for a backup and
/// never stops the next attempt, however soon it comes.
async fn backup_before_migrating(pool: &SqlitePool, file: &Path, target: i64) -> Result<PathBuf> {
    let failed = |detail: String| StoreError::Backup {
        file: file.to_path_buf(),
        detail,
    };
    let partial = sibling(file, &format!("before-schema-{target}.bak.partial"));
    for leftover in [partial.clone(), with_suffix(&partial, "-journal")] {
        if leftover.exists() {
            std::fs::remove_file(&leftover)
                .map_err(|e| failed(format!("{}: {e}", leftover.display())))?;
        }
    }
    sqlx::query("VACUUM INTO ?")
        .bind(partial.to_string_lossy().into_owned())
        .execute(pool)
        .await
        .map_err(|e| failed(e.to_string()))?;
    let stamp = Utc::now().format("%Y%m%dT%H%M%S");
    // rename() replaces an existing file: never an earlier backup.
    let backup = (0..1000)
        .map(|n| match n {
            0 => sibling(file, &format!("before-schema-{target}-{stamp}.bak")),
            n => sibling(file, &format!("before-schema-{target}-{stamp}-{n}.bak")),
        })
        .find(|candidate| !candidate.exists())
        .ok_or_else(|| failed("too many backups taken this second".into()))?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&partial, &backup))
        .map_err(|e| failed(format!("{}: {e}", partial.display())))?;
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    }
    Ok(backup)
}

fn classify_open_error(file: &Path, err: sqlx::Error) -> StoreError {
    if is_corruption(&err) {
        StoreError::Corrupt {
            file: file.to_path_buf(),
            detail: err.to_string(),
        }
    } else {
        StoreError::Unavailable {
            file: file.to_path_buf(),
            detail: err.to_string(),
        }
    }
}

/// `file` with `suffix` appended to its name, in the same folder.
fn sibling(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    file.with_file_name(name)
}

/// Renames an unusable database file (and its WAL and shared-memory files) out
/// of the way so a fresh one can be created. Returns the new name of the main
/// file. Nothing is deleted.
pub fn move_aside(file: &Path) -> Result<PathBuf> {
    let io = |e: std::io::Error| StoreError::Unavailable {
        file: file.to_path_buf(),
        detail: format!("could not move it aside: {e}"),
    };
    let stamp = Utc::now().format("%Y%m%dT%H%M%S");
    // rename() replaces an existing target, so find a name nothing uses yet:
    // two moves within a second must not overwrite the first damaged file.
    let moved = (0..1000)
        .map(|n| match n {
            0 => sibling(file, &format!("unreadable-{stamp}")),
            n => sibling(file, &format!("unreadable-{stamp}-{n}")),
        })
        .find(|candidate| !candidate.exists() && !with_suffix(candidate, "-wal").exists())
        .ok_or_else(|| {
            io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "too many moved-aside files",
            ))
        })?;
    // The main file first: if a side file then fails to move, the main file is
    // already out of the way and SQLite will not pair it with a stray log.
    if file.exists() {
        std::fs::rename(file, &moved).map_err(io)?;
    }
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(file, suffix);
        if side.exists() {
            std::fs::rename(&side, with_suffix(&moved, suffix)).map_err(io)?;
        }
    }
    tracing::warn!(from = %file.display(), to = %moved.display(), "moved an unusable database aside");
    Ok(moved)
}

/// `file` with `suffix` appended to the whole path (`x.sqlite3` → `x.sqlite3-wal`).
fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut path = file.as_os_str().to_os_string();
    path.push(suffix);
    PathBuf::from(path)
}

/// Lets tests build a database as an older release of the app left it.
#[doc(hidden)]
pub mod testing {
    use super::MIGRATOR;
    use sqlx::migrate::Migrator;
    use sqlx::SqlitePool;

    /// Applies only the migrations up to and including `version`.
    pub async fn migrate_up_to(
        pool: &SqlitePool,
        version: i64,
    ) -> Result<(), sqlx::migrate::MigrateError> {
        let older: Vec<_> = MIGRATOR
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect();
        let migrator = Migrator {
            migrations: std::borrow::Cow::Owned(older),
            ..Migrator::DEFAULT
        };
        migrator.run(pool).await
    }

    /// Every migration version this build knows, oldest first.
    pub fn versions() -> Vec<i64> {
        MIGRATOR.iter().map(|m| m.version).collect()
    }
}

/// Files and folders only their owner may read (on Unix; elsewhere the
/// user's profile folder already is).
pub(crate) mod private {
    use std::io;
    use std::path::Path;

    /// Creates `dir` and any missing parents, each new one mode 0700.
    pub fn create_dir_all(dir: &Path) -> io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)
    }

    /// Creates an empty `file` with mode 0600 unless it exists (an empty
    /// file is an empty SQLite database).
    pub fn create_file_if_missing(file: &Path) -> io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(file) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }
}
