//! Opening database files safely: WAL and foreign keys, damaged, newer and
//! older files, moving aside, and data surviving a restart.

mod common;
use common::{fresh, with_demo};

use release_desk_domain::Outcome;
use release_desk_store::{move_aside, testing, Store, StoreError, DATABASE_FILE};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

#[tokio::test]
async fn opens_in_wal_mode_with_foreign_keys_on() {
    let (_dir, _file, store) = fresh().await;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(fk, 1);
    assert!(busy >= 1000);
    assert_eq!(store.workspace().await.unwrap(), None);
}

#[tokio::test]
async fn data_survives_closing_and_reopening() {
    let (_dir, file, store) = with_demo().await;
    let before = store.dashboard().await.unwrap();
    store.close().await;
    let (store, report) = Store::open(&file).await.unwrap();
    assert!(report.applied.is_empty());
    let after = store.dashboard().await.unwrap();
    assert_eq!(
        serde_json::to_value(&before.rows).unwrap(),
        serde_json::to_value(&after.rows).unwrap()
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_and_can_be_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    let garbage = b"this is not sqlite, it is a shopping list: eggs, milk".repeat(200);
    std::fs::write(&file, &garbage).unwrap();

    let err = Store::open(&file).await.unwrap_err();
    assert_eq!(err.code(), "database_corrupt", "{err}");
    assert!(err.is_unusable_file());
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "the error names the file: {err}"
    );
    assert!(
        std::fs::read(&file).unwrap() == garbage,
        "the file is untouched"
    );

    let moved = move_aside(&file).unwrap();
    assert!(!file.exists());
    assert!(
        std::fs::read(&moved).unwrap() == garbage,
        "moved, not deleted"
    );
    let (store, _) = Store::open(&file).await.unwrap();
    assert_eq!(store.workspace().await.unwrap(), None);
}

#[tokio::test]
async fn a_damaged_database_is_reported_as_corrupt() {
    let (_dir, file, store) = with_demo().await;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    // Overwrite pages in the middle of the file, as a failing disk would.
    let mut bytes = std::fs::read(&file).unwrap();
    let len = bytes.len();
    assert!(len > 64 * 1024);
    for b in &mut bytes[4096..len - 4096] {
        *b = 0xA5;
    }
    std::fs::write(&file, &bytes).unwrap();
    let result = match Store::open(&file).await {
        Err(e) => e,
        Ok((store, _)) => store.dashboard().await.unwrap_err(),
    };
    assert_eq!(result.code(), "database_corrupt", "{result}");
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_untouched() {
    let (_dir, file, store) = fresh().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time)
         VALUES (99990101000000, 'from the future', CURRENT_TIMESTAMP, 1, x'00', 1)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    // Fold the write-ahead log into the main file so its bytes are the whole database.
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let before = std::fs::read(&file).unwrap();
    let err = Store::open(&file).await.unwrap_err();
    match &err {
        StoreError::NewerSchema {
            found, supported, ..
        } => {
            assert_eq!(*found, 99990101000000);
            assert_eq!(*supported, *testing::versions().last().unwrap());
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert!(err.to_string().contains("newer version"));
    assert!(std::fs::read(&file).unwrap() == before, "never overwritten");
}

#[tokio::test]
async fn an_older_database_is_copied_aside_before_it_is_upgraded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    let versions = testing::versions();
    assert!(versions.len() >= 2);
    {
        let conn = SqliteConnectOptions::new()
            .filename(&file)
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        conn.close().await.unwrap();
        let pool = sqlx::SqlitePool::connect_with(SqliteConnectOptions::new().filename(&file))
            .await
            .unwrap();
        testing::migrate_up_to(&pool, versions[0]).await.unwrap();
        sqlx::query(
            "INSERT INTO workspace (id, name, demo, created_at_ms) VALUES (1, 'Old', 0, 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let (store, report) = Store::open(&file).await.unwrap();
    assert_eq!(report.applied, versions[1..].to_vec());
    let backup = report
        .backup
        .expect("an existing file is copied before migrating");
    assert!(backup.exists());
    assert_eq!(store.workspace().await.unwrap().unwrap().name, "Old");
    store.set_preference("theme", "dark").await.unwrap();

    let old = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&backup)
            .read_only(true),
    )
    .await
    .unwrap();
    let name: String = sqlx::query_scalar("SELECT name FROM workspace")
        .fetch_one(&old)
        .await
        .unwrap();
    assert_eq!(name, "Old");
    let has_preferences: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'preferences'")
            .fetch_one(&old)
            .await
            .unwrap();
    assert_eq!(
        has_preferences, 0,
        "the backup is the file as it was before the upgrade"
    );
}

#[tokio::test]
async fn upgrading_a_database_with_deployments_fills_the_dashboard_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    // The version just before the dashboard cache (migration 002) came.
    let versions = testing::versions();
    let cache = versions
        .iter()
        .position(|v| *v == 20261122000002)
        .expect("the cell_latest migration");
    let before_cache = versions[cache - 1];
    {
        let pool = sqlx::SqlitePool::connect_with(
            SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true),
        )
        .await
        .unwrap();
        testing::migrate_up_to(&pool, before_cache).await.unwrap();
        for sql in [
            "INSERT INTO workspace VALUES (1, 'Old', 0, 0)",
            "INSERT INTO environments VALUES (1, 'dev', 'Development', 0, 0)",
            "INSERT INTO services VALUES (1, 'api', 'API', NULL, NULL)",
            "INSERT INTO artefacts VALUES (1, 1, 'api', '1.0.0', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '0123456789abcdef0123456789abcdef01234567', NULL, 0, NULL)",
            "INSERT INTO artefacts VALUES (2, 1, 'api', '1.1.0', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', '0123456789abcdef0123456789abcdef01234567', NULL, 1000, NULL)",
            "INSERT INTO deployments VALUES (1, 1, 1, 1, NULL, 5000, 6000, 'Priya', 'succeeded', NULL)",
            "INSERT INTO deployments VALUES (2, 2, 1, 1, NULL, 7000, 8000, 'Priya', 'failed', 'smoke test failed')",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let (store, report) = Store::open(&file).await.unwrap();
    assert!(report.backup.is_some());
    let dashboard = store.dashboard().await.unwrap();
    let cell = &dashboard.rows[0].cells[0];
    assert_eq!(cell.deployed.as_ref().unwrap().version, "1.0.0");
    assert_eq!(cell.last.as_ref().unwrap().outcome, Outcome::Failed);
}

#[tokio::test]
async fn moving_aside_twice_keeps_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    std::fs::write(&file, b"first damaged file").unwrap();
    std::fs::write(dir.path().join(format!("{DATABASE_FILE}-wal")), b"its log").unwrap();
    let first = move_aside(&file).unwrap();
    std::fs::write(&file, b"second damaged file").unwrap();
    let second = move_aside(&file).unwrap();
    assert_ne!(first, second);
    assert_eq!(std::fs::read(&first).unwrap(), b"first damaged file");
    assert_eq!(std::fs::read(&second).unwrap(), b"second damaged file");
    let mut wal = first.as_os_str().to_os_string();
    wal.push("-wal");
    assert_eq!(
        std::fs::read(wal).unwrap(),
        b"its log",
        "the log moved with its file"
    );
}

/// Issue 12, finding 7: the database (and its WAL, which SQLite creates with
/// the database file's mode) was world-readable. It holds who approved what.
#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_folder_are_private_to_the_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("data");
    let file = folder.join(release_desk_store::DATABASE_FILE);
    let (store, _) = release_desk_store::Store::open(&file).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700, "the data folder");
    assert_eq!(mode(&file), 0o600, "the database file");
    let wal = file.with_extension("sqlite3-wal");
    let wal = if wal.exists() {
        wal
    } else {
        std::path::PathBuf::from(format!("{}-wal", file.display()))
    };
    assert_eq!(mode(&wal), 0o600, "the write-ahead log {}", wal.display());
    store.close().await;
}
