//! A real local blue-green deployment target for Release Desk.
//!
//! Per service and environment, under one root directory: two legs (`blue/`
//! and `green/`), each serving an unpacked, digest- and signature-checked
//! artefact with the `release-desk-sample-service` binary, and one
//! unprivileged nginx on a loopback port that sends traffic to the live leg.
//! Processes outlive the app and are found again from their pid files.
//! [`LocalTarget`] implements the provider contract
//! ([`release_desk_provider::DeploymentTarget`]); [`package`] builds the
//! signed sample artefacts it deploys; [`load`] drives traffic through it.
//!
//! ```text
//! <root>/ports.json                 proxy and leg ports, kept across restarts
//! <root>/actions/<key>.json         the outcome of every keyed action
//! <root>/<service>/<env>/<leg>/     app/ (served), previous/, leg.json,
//!                                   service.pid, service.log
//! <root>/<service>/<env>/nginx/     nginx.conf, upstream.conf, nginx.pid,
//!                                   logs/, temp/
//! ```

mod actions;
mod artefact;
pub mod crash;
mod deploy;
mod error;
#[cfg(test)]
mod fuzz_tests;
mod legs;
pub mod load;
mod nginx;
pub mod package;
mod ports;
mod probe;
mod process;
mod rolling;
pub mod signing;
mod state;
mod switch;
mod target;
mod unpack;

pub use artefact::{check_location, DIGEST_FILE};
pub use error::{ProviderError, ProviderErrorKind, Result};
pub use package::{
    package, sample_versions, Behaviour, Manifest, PackagedArtefact, SampleVersion, SAMPLE_SERVICE,
};
pub use probe::{UPSTREAM_HEADER, VERSION_HEADER};
pub use signing::SigningKey;
pub use target::{default_nginx_binary, AssignedPorts, LocalTarget, LocalTargetConfig};
