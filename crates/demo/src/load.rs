//! Loading the whole demo into a store: the workspace and its history, the
//! people and their change records, the calendar, and demo-web with its
//! signed packages, bindings and approved changes. The app's "Load the demo"
//! and the story's store-level test both come through here, so the test
//! checks what a person really gets.

use std::path::Path;

use chrono::{DateTime, Utc};
use release_desk_changes::Profile;
use release_desk_store::Store;

use crate::{
    add_sample_service, demo_changes, demo_workspace, install_sample_service, package_samples,
    play, SampleError,
};

/// Loads the demo as of `now`, packaging demo-web's signed artefacts into
/// `artefacts_dir`. The store must hold no workspace yet.
pub async fn load_demo(
    store: &Store,
    artefacts_dir: &Path,
    now: DateTime<Utc>,
) -> Result<(), SampleError> {
    let mut seed = demo_workspace(now);
    let samples = package_samples(artefacts_dir)?;
    add_sample_service(&mut seed, &samples, now)?;
    store.load_workspace(&seed, now).await?;
    play(store, &demo_changes(&seed, now), now).await?;
    let people = store.profiles().await?;
    let holds = |p: &Profile, role: &str| p.roles.iter().any(|r| r.as_str() == role);
    // Separation of duties: the approver must not be the person who raises.
    let release_manager = people
        .iter()
        .find(|p| holds(p, "release-manager"))
        .ok_or(SampleError::Missing("release manager"))?;
    let change_manager = people
        .iter()
        .find(|p| p.id != release_manager.id && holds(p, "change-manager"))
        .ok_or(SampleError::Missing("change manager"))?;
    install_sample_service(store, &samples, release_manager, change_manager, now).await
}

/// What a guarded load leaves beside the database while it runs: a copy of
/// the database as it was, and a marker that says the load has not finished.
fn snapshot_of(database: &Path) -> std::path::PathBuf {
    sibling(database, "before-demo")
}

fn marker_of(database: &Path) -> std::path::PathBuf {
    sibling(database, "demo-loading")
}

fn sibling(database: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    database.with_file_name(name)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> SampleError {
    SampleError::Package(format!("could not {what} {}: {e}", path.display()))
}

/// Loads the demo so that it is there whole or not at all, even if the
/// process is killed part-way. The demo is many audited writes (the
/// workspace, then each person's decisions, then demo-web's packages), each
/// its own transaction, because the demo is played through the same calls a
/// person makes; so instead of one transaction, the database is first copied
/// (`VACUUM INTO`, consistent under WAL) and a marker written beside it. The
/// marker is removed once everything is in. If the process dies first,
/// [`recover_interrupted_load`] (run before the database is next opened)
/// puts the copy back. On an ordinary error the caller closes the store and
/// calls [`recover_interrupted_load`] too.
pub async fn load_demo_guarded(
    store: &Store,
    artefacts_dir: &Path,
    now: DateTime<Utc>,
) -> Result<(), SampleError> {
    let database = store.file().to_path_buf();
    let snapshot = snapshot_of(&database);
    let marker = marker_of(&database);
    // A copy left by an earlier run that ended cleanly but could not delete it.
    if !marker.exists() {
        remove_copy(&snapshot)?;
    }
    sqlx::query("VACUUM INTO ?")
        .bind(snapshot.to_string_lossy().into_owned())
        .execute(store.pool())
        .await
        .map_err(release_desk_store::StoreError::Database)?;
    sync(&snapshot)?;
    // The marker only once the copy is durable: a marker always has a copy.
    std::fs::write(&marker, b"the demo is loading; if this file survives a restart, the database is put back as it was\n")
        .map_err(|e| io_error("write", &marker, e))?;
    sync(&marker)?;
    sync_dir(&database)?;
    load_demo(store, artefacts_dir, now).await?;
    // Whole: the marker goes first (the load is now the truth), then the copy.
    std::fs::remove_file(&marker).map_err(|e| io_error("remove", &marker, e))?;
    sync_dir(&database)?;
    remove_copy(&snapshot)
}

/// Puts the database back as it was before a demo load that did not finish
/// (a kill, a crash, an error). Call it before opening the database; returns
/// whether anything was put back.
pub fn recover_interrupted_load(database: &Path) -> Result<bool, SampleError> {
    let snapshot = snapshot_of(database);
    let marker = marker_of(database);
    if !marker.exists() {
        // The load finished and only the clean-up did not, or the process
        // died while taking the copy (before the marker): the database itself
        // was not touched either way.
        remove_copy(&snapshot)?;
        return Ok(false);
    }
    if !snapshot.exists() {
        return Err(SampleError::Package(format!(
            "{} says a demo load was interrupted, but the copy taken before it ({}) is gone: move the database aside and load the demo again",
            marker.display(),
            snapshot.display()
        )));
    }
    // The half-loaded file's logs go with it: SQLite must never pair the
    // copy with a log written for the other file.
    for suffix in ["-wal", "-shm"] {
        let side = sibling_plain(database, suffix);
        if side.exists() {
            std::fs::remove_file(&side).map_err(|e| io_error("remove", &side, e))?;
        }
    }
    std::fs::rename(&snapshot, database).map_err(|e| io_error("restore", database, e))?;
    sync_dir(database)?;
    std::fs::remove_file(&marker).map_err(|e| io_error("remove", &marker, e))?;
    sync_dir(database)?;
    Ok(true)
}

/// Removes the copy and any journal SQLite left beside it mid-`VACUUM INTO`.
fn remove_copy(snapshot: &Path) -> Result<(), SampleError> {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let path = sibling_plain(snapshot, suffix);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| io_error("remove", &path, e))?;
        }
    }
    Ok(())
}

fn sibling_plain(database: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_os_string();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

fn sync(path: &Path) -> Result<(), SampleError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error("flush", path, e))
}

/// Makes a rename or a new file in the database's folder durable.
fn sync_dir(database: &Path) -> Result<(), SampleError> {
    match database.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => sync(dir),
        _ => Ok(()),
    }
}
