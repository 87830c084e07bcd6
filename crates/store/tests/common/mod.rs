//! Helpers shared by the store's integration tests: fresh databases in
//! temporary folders, with or without the demo workspace.
#![allow(dead_code)] // each test file uses its own subset

use chrono::{TimeZone, Utc};
use release_desk_demo::demo_workspace;
use release_desk_domain::Slug;
use release_desk_store::{testing, Store, DATABASE_FILE};
use std::path::PathBuf;

pub fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap()
}

pub fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

pub async fn fresh() -> (tempfile::TempDir, PathBuf, Store) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(DATABASE_FILE);
    let (store, report) = Store::open(&file).await.unwrap();
    assert_eq!(report.backup, None, "a new file needs no backup");
    assert_eq!(report.applied, testing::versions());
    (dir, file, store)
}

pub async fn with_demo() -> (tempfile::TempDir, PathBuf, Store) {
    let (dir, file, store) = fresh().await;
    store
        .load_workspace(&demo_workspace(now()), now())
        .await
        .unwrap();
    (dir, file, store)
}

/// A profile holding `roles`, created in `store` (email `<name>@acme-health.example`).
pub async fn person(store: &Store, name: &str, roles: &[&str]) -> release_desk_changes::Profile {
    store
        .create_profile(
            release_desk_changes::ProfileDraft {
                name: name.into(),
                email: format!("{}@acme-health.example", name.to_lowercase()),
                roles: roles.iter().map(|r| slug(r)).collect(),
            },
            now(),
        )
        .await
        .unwrap()
}
