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
