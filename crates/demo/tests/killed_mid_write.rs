//! Issue 12's fault list: SIGKILL during each schema migration, during the
//! copy taken before migrating, and during a calendar import. Each time, the
//! database opens afterwards and is whole or as it was before. The processes
//! killed are `release-desk-db`, which runs the app's own code for each.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use release_desk_store::{testing, Store, DATABASE_FILE};
use sqlx::sqlite::SqliteConnectOptions;

/// When to kill `release-desk-db`: a time after it was started, or after
/// it says the database is open and its work has begun.
#[derive(Clone, Copy, Debug)]
enum Kill {
    AfterStart(Duration),
    AfterWorking(Duration),
}

/// Runs `release-desk-db <args>` and kills it with SIGKILL as `kill` says;
/// returns whether it had finished by then.
fn killed(args: &[&std::ffi::OsStr], kill: Kill) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_release-desk-db"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open until the process is gone, so it never writes to a closed pipe.
    let mut out = BufReader::new(child.stdout.take().unwrap());
    match kill {
        Kill::AfterStart(d) => std::thread::sleep(d),
        Kill::AfterWorking(d) => {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "working");
            std::thread::sleep(d);
        }
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    drop(out);
    status.success()
}

/// Runs `release-desk-db <args>` to the end.
fn finish(args: &[&std::ffi::OsStr]) {
    let output = Command::new(env!("CARGO_BIN_EXE_release-desk-db"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A database at the first schema with `n` deployments, so the migrations
/// that follow (the dashboard cache is filled from every deployment) take a
/// while.
async fn old_database(file: &Path, n: u32) {
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(file)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    testing::migrate_up_to(&pool, testing::versions()[0])
        .await
        .unwrap();
    for sql in [
        "INSERT INTO workspace VALUES (1, 'Old', 0, 0)",
        "INSERT INTO environments VALUES (1, 'dev', 'Development', 0, 0)",
        "INSERT INTO services VALUES (1, 'api', 'API', NULL, NULL)",
        "INSERT INTO artefacts VALUES (1, 1, 'api', '1.0.0', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', '0123456789abcdef0123456789abcdef01234567', NULL, 0, NULL)",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
         INSERT INTO deployments (artefact_id, service_id, environment_id, leg, started_at_ms, finished_at_ms, actor, outcome, failure_reason)
         SELECT 1, 1, 1, NULL, i * 1000, i * 1000 + 500, 'Priya', 'succeeded', NULL FROM n",
    )
    .bind(n)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

async fn deployments(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM deployments")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_migration_or_its_copy_killed_at_any_moment_leaves_a_file_that_opens() {
    const N: u32 = 100_000;
    let (mut interrupted, mut finished) = (0, 0);
    let delays: Vec<u64> = (0..30).map(|i| i * 4).chain([200, 400]).collect();
    for delay in delays {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DATABASE_FILE);
        old_database(&file, N).await;
        // Killed from the moment it starts: the copy, then each migration.
        let open = ["open".as_ref(), file.as_os_str()];
        if killed(&open, Kill::AfterStart(Duration::from_millis(delay))) {
            finished += 1;
        } else {
            interrupted += 1;
        }
        // Opened again, as the app would at its next start (within the same
        // second: a restart after a crash is quick).
        finish(&open);
        let (store, report) = Store::open(&file)
            .await
            .unwrap_or_else(|e| panic!("after a kill at {delay} ms the file does not open: {e}"));
        assert!(report.applied.is_empty(), "every migration is applied");
        assert_eq!(
            deployments(&store).await,
            i64::from(N),
            "after a kill at {delay} ms"
        );
        assert_eq!(store.workspace().await.unwrap().unwrap().name, "Old");
        let dashboard = store.dashboard().await.unwrap();
        assert_eq!(
            dashboard.rows[0].cells[0]
                .deployed
                .as_ref()
                .unwrap()
                .version,
            "1.0.0"
        );
        store.close().await;
        // Every copy taken before migrating is whole: the old file as it was.
        for entry in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".bak") {
                let old = sqlx::SqlitePool::connect_with(
                    SqliteConnectOptions::new()
                        .filename(entry.path())
                        .read_only(true),
                )
                .await
                .unwrap();
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deployments")
                    .fetch_one(&old)
                    .await
                    .unwrap_or_else(|e| panic!("{name} is not a whole copy: {e}"));
                assert_eq!(n, i64::from(N), "{name}");
                old.close().await;
            } else {
                assert!(
                    name == DATABASE_FILE || name.starts_with(&format!("{DATABASE_FILE}-")),
                    "after a kill at {delay} ms a stray file is left: {name}"
                );
            }
        }
    }
    eprintln!("{interrupted} opens interrupted, {finished} finished before the kill");
    assert!(interrupted > 0, "no kill landed inside the upgrade");
}

/// A calendar of `n` one-hour windows, one a day, as another tool exports it.
fn big_calendar(n: u32) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//kill test//EN\r\n");
    let start = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    for i in 0..n {
        let day = start + chrono::Duration::days(i64::from(i));
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:window-{i}@kill.test\r\nDTSTAMP:20261201T000000Z\r\nDTSTART:{d}T100000Z\r\nDTEND:{d}T110000Z\r\nSUMMARY:Imported window {i}\r\nEND:VEVENT\r\n",
            d = day.format("%Y%m%d")
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

#[tokio::test]
async fn a_calendar_import_killed_at_any_moment_is_all_there_or_not_at_all() {
    const EVENTS: i64 = 1500;
    let template = tempfile::tempdir().unwrap();
    let file = template.path().join(DATABASE_FILE);
    finish(&[
        "load-demo".as_ref(),
        file.as_os_str(),
        template.path().join("artefacts").as_os_str(),
    ]);
    let ics = template.path().join("windows.ics");
    std::fs::write(&ics, big_calendar(EVENTS as u32)).unwrap();
    let count = |store: Store| async move {
        let rules: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_rules")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let audit = store.verify_audit().await.unwrap();
        store.close().await;
        (rules, audit)
    };
    let (before, _) = count(Store::open(&file).await.unwrap().0).await;

    let (mut none, mut all) = (0, 0);
    for delay in (0..25).map(|i| i * 8).chain([1000, 3000]) {
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join(DATABASE_FILE);
        std::fs::copy(&file, &copy).unwrap();
        killed(
            &["import-ics".as_ref(), copy.as_os_str(), ics.as_os_str()],
            Kill::AfterWorking(Duration::from_millis(delay)),
        );
        let (store, _) = Store::open(&copy)
            .await
            .unwrap_or_else(|e| panic!("after a kill at {delay} ms the file does not open: {e}"));
        let (rules, audit) = count(store).await;
        assert!(audit.intact, "after {delay} ms: {}", audit.message);
        if rules == before {
            none += 1;
        } else {
            assert_eq!(
                rules,
                before + EVENTS,
                "after a kill at {delay} ms: part of the import"
            );
            all += 1;
        }
    }
    eprintln!("{none} imports left nothing, {all} were whole");
    assert!(
        all > 0,
        "no import finished: the file is too big for the test"
    );
}
