//! A whole workspace as data: what the demo, an importer or a benchmark loads
//! into an empty store in one go.

use crate::{Artefact, Deployment, PathToLive, Service};

#[derive(Debug, Clone)]
pub struct WorkspaceSeed {
    pub name: String,
    pub demo: bool,
    pub path_to_live: PathToLive,
    pub services: Vec<Service>,
    pub artefacts: Vec<Artefact>,
    /// In any order; each names its artefact by service and version.
    pub deployments: Vec<Deployment>,
}
