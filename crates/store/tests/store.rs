//! The store against real SQLite files in temporary folders.

use chrono::{Duration, TimeZone, Utc};
use release_desk_demo::demo_workspace;
use release_desk_domain::{
    Artefact, ArtefactDraft, DeploymentDraft, Drift, Outcome, Registration, Slug, WorkspaceSeed,
};
use release_desk_store::{move_aside, testing, HistoryPage, Store, StoreError, DATABASE_FILE};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::PathBuf;

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap()
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

async fn fresh() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    let (store, report) = Store::open(&file).await.unwrap();
    assert_eq!(report.backup, None, "a new file needs no backup");
    assert_eq!(report.applied, testing::versions());
    (dir, file, store)
}

async fn with_demo() -> (tempfile::TempDir, PathBuf, Store) {
    let (dir, file, store) = fresh().await;
    store
        .load_workspace(&demo_workspace(now()), now())
        .await
        .unwrap();
    (dir, file, store)
}

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
async fn demo_workspace_fills_the_dashboard() {
    let (_dir, _file, store) = with_demo().await;
    let info = store.workspace().await.unwrap().unwrap();
    assert!(info.demo);
    assert_eq!(info.services, 10);
    let dashboard = store.dashboard().await.unwrap();
    let keys: Vec<&str> = dashboard
        .environments
        .iter()
        .map(|e| e.key.as_str())
        .collect();
    assert_eq!(keys, ["dev", "test", "uat", "preprod", "production"]);
    assert_eq!(dashboard.rows.len(), 10);
    for row in &dashboard.rows {
        assert_eq!(row.cells.len(), 5, "{}", row.service.key);
        assert_eq!(row.cells[0].drift, Drift::NoPrevious);
        let deployed = row.cells.iter().filter(|c| c.deployed.is_some()).count();
        if row.service.key.as_str() == "consent-service" {
            assert_eq!(deployed, 2, "a new service runs in dev and test only");
            assert_eq!(row.cells[2].drift, Drift::NotDeployed);
        } else {
            assert_eq!(deployed, 5, "{} has a version everywhere", row.service.key);
        }
    }
    let payments = dashboard
        .rows
        .iter()
        .find(|r| r.service.key.as_str() == "payments-api")
        .unwrap();
    let prod = &payments.cells[4];
    assert_eq!(prod.last.as_ref().unwrap().outcome, Outcome::InProgress);
    assert_ne!(
        prod.deployed.as_ref().unwrap().version,
        prod.last.as_ref().unwrap().version
    );

    let identity = dashboard
        .rows
        .iter()
        .find(|r| r.service.key.as_str() == "identity-service")
        .unwrap();
    assert_eq!(
        identity.cells[4].drift,
        Drift::Ahead,
        "the emergency fix skipped preprod"
    );
    let behind = dashboard
        .rows
        .iter()
        .flat_map(|r| &r.cells)
        .filter(|c| matches!(c.drift, Drift::Behind { .. }))
        .count();
    assert!(behind > 0);
    assert!(dashboard.rows.iter().flat_map(|r| &r.cells).any(|c| c
        .last
        .as_ref()
        .is_some_and(|l| l.outcome == Outcome::Failed && l.failure_reason.is_some())));
}

#[tokio::test]
async fn behind_counts_the_builds_in_between() {
    let (_dir, _file, store) = with_demo().await;
    let dashboard = store.dashboard().await.unwrap();
    for row in &dashboard.rows {
        for pair in row.cells.windows(2) {
            if let Drift::Behind { builds } = pair[1].drift {
                let prev = pair[0].deployed.as_ref().unwrap();
                let this = pair[1].deployed.as_ref().unwrap();
                assert_ne!(prev.digest, this.digest);
                assert!(builds >= 1);
            }
        }
    }
}

#[tokio::test]
async fn cell_history_pages_newest_first_without_gaps() {
    let (_dir, _file, store) = with_demo().await;
    let (service, env) = (slug("payments-api"), slug("dev"));
    let all = store
        .cell_history(
            &service,
            &env,
            &HistoryPage {
                after: None,
                limit: Some(500),
            },
        )
        .await
        .unwrap();
    assert!(all.total as usize >= 10);
    assert_eq!(all.entries.len(), all.total as usize);
    assert!(!all.more);
    assert!(all
        .entries
        .windows(2)
        .all(|w| w[0].started_at >= w[1].started_at));

    let mut seen = Vec::new();
    let mut page = HistoryPage {
        after: None,
        limit: Some(4),
    };
    loop {
        let h = store.cell_history(&service, &env, &page).await.unwrap();
        seen.extend(h.entries.iter().map(|e| e.id));
        if !h.more {
            break;
        }
        let last = h.entries.last().unwrap();
        page.after = Some((last.started_at, last.id));
    }
    assert_eq!(seen, all.entries.iter().map(|e| e.id).collect::<Vec<_>>());

    let failed = store
        .cell_history(
            &slug("payments-api"),
            &slug("production"),
            &HistoryPage::default(),
        )
        .await
        .unwrap();
    for e in &failed.entries {
        assert_eq!(
            e.failure_reason.is_some(),
            matches!(e.outcome, Outcome::Failed | Outcome::RolledBack)
        );
        assert_eq!(e.duration_ms.is_some(), e.outcome != Outcome::InProgress);
    }
}

#[tokio::test]
async fn history_of_an_unknown_cell_names_what_is_unknown() {
    let (_dir, _file, store) = with_demo().await;
    let err = store
        .cell_history(&slug("nope"), &slug("dev"), &HistoryPage::default())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownService(ref s) if s == "nope"));
    let err = store
        .cell_history(&slug("payments-api"), &slug("qa"), &HistoryPage::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_environment");
}

fn artefact(version: &str, byte: u8) -> Artefact {
    Artefact::new(ArtefactDraft {
        service: slug("payments-api"),
        name: "payments-api".into(),
        version: version.into(),
        digest: format!("{byte:02x}").repeat(32),
        source_commit: "0123456789abcdef0123456789abcdef01234567".into(),
        build_url: None,
        created_at: now(),
        signature: None,
    })
    .unwrap()
}

#[tokio::test]
async fn conflicting_artefacts_are_refused_and_digests_never_change() {
    let (_dir, _file, store) = with_demo().await;
    assert_eq!(
        store
            .record_artefact(&artefact("9.0.0", 0xaa))
            .await
            .unwrap(),
        Registration::New
    );
    assert_eq!(
        store
            .record_artefact(&artefact("9.0.0", 0xaa))
            .await
            .unwrap(),
        Registration::AlreadyRecorded
    );
    let err = store
        .record_artefact(&artefact("9.0.0", 0xbb))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert!(err.to_string().contains("conflicting artefact"), "{err}");

    // Even bypassing the domain, the file refuses to change a recorded digest.
    let bypass = sqlx::query("UPDATE artefacts SET digest = ? WHERE version = '9.0.0'")
        .bind("cc".repeat(32))
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(bypass.to_string().contains("immutable"), "{bypass}");
    let digest: String = sqlx::query_scalar("SELECT digest FROM artefacts WHERE version = '9.0.0'")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(digest, "aa".repeat(32));
}

#[tokio::test]
async fn a_deployment_of_an_unknown_artefact_is_refused_and_nothing_is_written() {
    let (_dir, _file, store) = with_demo().await;
    let before = store.workspace().await.unwrap().unwrap().deployments;
    let draft = DeploymentDraft {
        service: slug("payments-api"),
        environment: slug("dev"),
        version: "0.0.0-never-built".into(),
        leg: None,
        started_at: now(),
        finished_at: Some(now() + Duration::minutes(1)),
        actor: "Priya Shah".into(),
        outcome: Outcome::Succeeded,
        failure_reason: None,
    };
    let err = store.record_deployment(draft.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownArtefact { .. }), "{err}");
    assert_eq!(
        store.workspace().await.unwrap().unwrap().deployments,
        before
    );

    store
        .record_artefact(&artefact("0.0.0-never-built", 0x11))
        .await
        .unwrap();
    store.record_deployment(draft).await.unwrap();
    assert_eq!(
        store.workspace().await.unwrap().unwrap().deployments,
        before + 1
    );
}

#[tokio::test]
async fn a_workspace_loads_entirely_or_not_at_all() {
    let (_dir, _file, store) = fresh().await;
    let good = demo_workspace(now());
    let mut broken: WorkspaceSeed = good.clone();
    // The last artefact goes missing: its deployments can no longer resolve.
    let dropped = broken.artefacts.pop().unwrap();
    assert!(broken
        .deployments
        .iter()
        .any(|d| d.version() == dropped.version() && d.service() == dropped.service()));
    let err = store.load_workspace(&broken, now()).await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownArtefact { .. }), "{err}");
    assert_eq!(store.workspace().await.unwrap(), None);
    let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM services")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(services, 0, "nothing half-written");

    store.load_workspace(&good, now()).await.unwrap();
    let again = store.load_workspace(&good, now()).await.unwrap_err();
    assert_eq!(again.code(), "workspace_not_empty");
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
async fn environments_can_be_reordered_but_not_dropped() {
    let (_dir, _file, store) = with_demo().await;
    let keys: Vec<Slug> = ["test", "dev", "uat", "preprod", "production"]
        .map(slug)
        .to_vec();
    store.reorder_environments(&keys).await.unwrap();
    let dashboard = store.dashboard().await.unwrap();
    assert_eq!(dashboard.environments[0].key.as_str(), "test");
    assert_eq!(dashboard.rows[0].cells[0].environment, "test");
    assert!(store.reorder_environments(&keys[1..]).await.is_err());
    assert_eq!(
        store.path_to_live().await.unwrap().unwrap().stages()[0]
            .key
            .as_str(),
        "test"
    );
}

#[tokio::test]
async fn preferences_round_trip() {
    let (_dir, _file, store) = fresh().await;
    assert_eq!(store.preference("theme").await.unwrap(), None);
    store.set_preference("theme", "dark").await.unwrap();
    store.set_preference("theme", "light").await.unwrap();
    assert_eq!(
        store.preference("theme").await.unwrap().as_deref(),
        Some("light")
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
async fn the_latest_of_a_cell_is_right_even_when_deployments_arrive_out_of_order() {
    let (_dir, _file, store) = fresh().await;
    let mut seed = demo_workspace(now());
    seed.deployments.reverse(); // newest first: every insert is older than the last
    store.load_workspace(&seed, now()).await.unwrap();
    let reversed = store.dashboard().await.unwrap();

    let (_dir2, _file2, in_order) = with_demo().await;
    let expected = in_order.dashboard().await.unwrap();
    // Row ids differ with the insertion order; what each cell shows must not.
    let shown = |d: &release_desk_store::Dashboard| -> Vec<String> {
        d.rows
            .iter()
            .flat_map(|r| {
                r.cells.iter().map(move |c| {
                    format!(
                        "{} {} {:?} {:?} {:?}",
                        r.service.key,
                        c.environment,
                        c.deployed.as_ref().map(|v| &v.version),
                        c.last.as_ref().map(|l| (&l.version, l.outcome)),
                        c.drift
                    )
                })
            })
            .collect()
    };
    let (got, want) = (shown(&reversed), shown(&expected));
    let differences: Vec<_> = got
        .iter()
        .zip(&want)
        .filter(|(g, w)| g != w)
        .take(3)
        .collect();
    assert!(differences.is_empty(), "first differences: {differences:?}");
}

#[tokio::test]
async fn a_finished_deployment_updates_what_the_cell_runs() {
    let (_dir, _file, store) = with_demo().await;
    let cell = |d: &release_desk_store::Dashboard| {
        d.rows
            .iter()
            .find(|r| r.service.key.as_str() == "payments-api")
            .unwrap()
            .cells[4]
            .clone()
    };
    let before = cell(&store.dashboard().await.unwrap());
    let running = before.last.clone().unwrap();
    assert_eq!(running.outcome, Outcome::InProgress);
    sqlx::query("UPDATE deployments SET outcome = 'succeeded', finished_at_ms = started_at_ms + 60000 WHERE id = ?")
        .bind(i64::from(running.id))
        .execute(store.pool())
        .await
        .unwrap();
    let after = cell(&store.dashboard().await.unwrap());
    assert_eq!(after.deployed.unwrap().version, running.version);
    assert_eq!(after.last.unwrap().outcome, Outcome::Succeeded);
}

#[tokio::test]
async fn upgrading_a_database_with_deployments_fills_the_dashboard_cache() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    let versions = testing::versions();
    let before_cache = versions[versions.len() - 2];
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
