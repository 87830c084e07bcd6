//! Issue 12: "the demo loads in several transactions and a kill part-way
//! leaves it half loaded". The real loader (`release-desk-db load-demo`, the
//! same guarded load the app runs) is killed with SIGKILL at many moments;
//! after the recovery the app runs at start, the database opens and is either
//! the whole demo or exactly what it was before, with its audit chain intact.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use release_desk_changes::ProfileDraft;
use release_desk_domain::Slug;
use release_desk_store::{Store, DATABASE_FILE};

const NOW: &str = "2026-12-03T10:26:00Z";

/// A database with one person in it already: "as before" is not empty.
async fn prepare(dir: &Path) -> Store {
    let (store, _) = Store::open(&dir.join(DATABASE_FILE)).await.unwrap();
    store
        .create_profile(
            ProfileDraft {
                name: "Early Bird".into(),
                email: "early@example.org".into(),
                roles: vec![Slug::parse("release-manager").unwrap()],
            },
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    store
}

/// Rows in every table: the shape of what is stored.
async fn shape(store: &Store) -> BTreeMap<String, i64> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM \"{t}\""))
            .fetch_one(store.pool())
            .await
            .unwrap();
        out.insert(t, n);
    }
    out
}

fn loader(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_release-desk-db"));
    c.arg("load-demo")
        .arg(dir.join(DATABASE_FILE))
        .arg(dir.join("artefacts"))
        .arg(NOW)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    c
}

#[tokio::test]
async fn a_demo_load_killed_at_any_moment_leaves_the_whole_demo_or_what_was_there() {
    // The whole demo, loaded without interruption, and the state before it.
    let reference = tempfile::tempdir().unwrap();
    let store = prepare(reference.path()).await;
    let before = shape(&store).await;
    store.close().await;
    let status = loader(reference.path()).status().unwrap();
    assert!(status.success());
    let (store, _) = Store::open(&reference.path().join(DATABASE_FILE))
        .await
        .unwrap();
    let whole = shape(&store).await;
    store.close().await;
    assert!(
        whole["deployments"] > 100 && whole["change_records"] > 5,
        "{whole:?}"
    );

    let (mut restored, mut complete) = (0, 0);
    // Delays after the loader says it has begun: from at once to past its end.
    let delays: Vec<u64> = (0..30)
        .map(|i| i * 3)
        .chain([120, 200, 400, 1000])
        .collect();
    for delay in delays {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path()).await.close().await;
        let mut child = loader(dir.path()).spawn().unwrap();
        let mut line = String::new();
        // Kept open until the loader is gone, so it never writes to a closed pipe.
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "working");
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill(); // SIGKILL; it may have finished already
        child.wait().unwrap();
        drop(out);

        // What the app does at start, then open.
        let put_back = release_desk_demo::recover_interrupted_load(&dir.path().join(DATABASE_FILE))
            .unwrap_or_else(|e| panic!("after {delay} ms: {e}"));
        let (store, _) = Store::open(&dir.path().join(DATABASE_FILE))
            .await
            .unwrap_or_else(|e| panic!("after {delay} ms the file does not open: {e}"));
        let now = shape(&store).await;
        let audit = store.verify_audit().await.unwrap();
        assert!(audit.intact, "after {delay} ms: {}", audit.message);
        if store.workspace().await.unwrap().is_some() {
            assert_eq!(
                now, whole,
                "after {delay} ms a workspace is there but not the whole demo"
            );
            assert!(!put_back, "after {delay} ms");
            complete += 1;
        } else {
            assert_eq!(
                now, before,
                "after {delay} ms nothing of the demo may remain"
            );
            restored += usize::from(put_back);
        }
        store.close().await;
        let leftovers: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("demo"))
            .collect();
        assert!(leftovers.is_empty(), "after {delay} ms: {leftovers:?}");
    }
    // Proof the kills landed inside the load, not only before or after it.
    assert!(
        restored > 0,
        "no kill interrupted a load ({complete} completed)"
    );
    assert!(complete > 0, "no load completed");
    eprintln!("{restored} loads put back, {complete} complete");
}
