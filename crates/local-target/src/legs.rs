//! One leg of a service in an environment: the unpacked artefact it serves
//! (`app/`, with the one before it kept in `previous/`), the sample service
//! process serving it, and the record of what runs there.

use std::path::Path;
use std::time::Duration;

use release_desk_domain::Leg;

use crate::artefact::Staged;
use crate::error::{io_at, timeout, unavailable, Result};
use crate::probe::{self, Answer};
use crate::process;
use crate::state::{read_json, write_json, Deployed, LegPaths, LegRecord, Stored};

/// How long a new service process may take to answer its first request.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a service gets to finish its requests after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A leg as found on disk and in the process table.
#[derive(Debug)]
pub(crate) struct LegState {
    pub record: Stored<LegRecord>,
    pub pid: Option<i32>,
}

impl LegState {
    pub(crate) fn running(&self) -> bool {
        self.pid.is_some()
    }
    pub(crate) fn record(&self) -> Option<&LegRecord> {
        match &self.record {
            Stored::Found(record) => Some(record),
            Stored::Missing | Stored::Unreadable(_) => None,
        }
    }
}

/// What identifies the service process of a leg: our binary, serving this
/// leg's `app/` directory.
fn identity(service_binary: &Path, paths: &LegPaths) -> process::Identity {
    let program = service_binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| service_binary.display().to_string());
    process::Identity::Leg {
        program,
        app: paths.app().display().to_string(),
    }
}

pub(crate) fn read(service_binary: &Path, paths: &LegPaths) -> LegState {
    let who = identity(service_binary, paths);
    LegState {
        record: read_json(&paths.record()),
        pid: process::running_from(&paths.pid_file(), &who),
    }
}

/// Stops the leg's process if it runs; true if it had to be killed.
/// Also stops any other process serving this leg's `app/` that no pid file
/// names (the app killed between starting a leg and recording its pid), so
/// such a stray cannot hold a port or outlive the leg.
pub(crate) fn stop(service_binary: &Path, paths: &LegPaths) -> Result<bool> {
    let who = identity(service_binary, paths);
    let mut killed = match process::running_from(&paths.pid_file(), &who) {
        Some(pid) => process::stop(pid, &who, libc::SIGTERM, STOP_GRACE)?,
        None => false,
    };
    for stray in process::all_ours(&who) {
        tracing::warn!(pid = stray, leg = %paths.dir.display(), "stopping a leg process no pid file recorded");
        killed |= process::stop(stray, &who, libc::SIGTERM, STOP_GRACE)?;
    }
    let _ = std::fs::remove_file(paths.pid_file());
    Ok(killed)
}

/// Moves a staged artefact into `app/`, keeping what was there as
/// `previous/`. Each step is a rename, so the leg never holds half an
/// artefact. The leg's process must already be stopped.
pub(crate) fn install(paths: &LegPaths, staged: &Staged, record: Option<&LegRecord>) -> Result<()> {
    let app = paths.app();
    let previous = paths.previous();
    if app.exists() {
        if holds(&app, record) {
            if previous.exists() {
                std::fs::remove_dir_all(&previous).map_err(|e| io_at("remove", &previous, e))?;
            }
            std::fs::rename(&app, &previous).map_err(|e| io_at("move aside", &app, e))?;
        } else {
            // `app/` is not what `leg.json` says runs here: an install cut
            // short by a kill before its record was written. It is not the
            // way back, so it must not push the real previous release out
            // of `previous/`: discard it.
            std::fs::remove_dir_all(&app).map_err(|e| io_at("remove", &app, e))?;
        }
    }
    std::fs::rename(&staged.dir, &app).map_err(|e| io_at("move into place", &app, e))
}

/// Whether the release unpacked in `dir` is the one `record` describes (by
/// the version its manifest names; digests are not kept in the folder).
fn holds(dir: &Path, record: Option<&LegRecord>) -> bool {
    let Some(record) = record else {
        return false;
    };
    std::fs::read(dir.join(crate::package::MANIFEST_FILE))
        .ok()
        .and_then(|bytes| serde_json::from_slice::<crate::package::Manifest>(&bytes).ok())
        .is_some_and(|m| m.version == record.version)
}

/// Swaps `previous/` back into `app/` (the failed version is discarded) and
/// returns the record of what is now there. The process must be stopped.
pub(crate) fn restore_previous(
    paths: &LegPaths,
    record: &LegRecord,
    port: u16,
) -> Result<Option<LegRecord>> {
    let Some(previous) = &record.previous else {
        return Ok(None);
    };
    let app = paths.app();
    let prev_dir = paths.previous();
    if !prev_dir.is_dir() {
        return Ok(None);
    }
    if app.exists() {
        std::fs::remove_dir_all(&app).map_err(|e| io_at("remove", &app, e))?;
    }
    std::fs::rename(&prev_dir, &app).map_err(|e| io_at("move back", &prev_dir, e))?;
    let restored = LegRecord {
        version: previous.version.clone(),
        digest: previous.digest.clone(),
        port,
        previous: None,
    };
    write_json(&paths.record(), &restored)?;
    Ok(Some(restored))
}

/// The record to write for a new version, remembering the one it replaces.
pub(crate) fn next_record(
    old: Option<&LegRecord>,
    staged: &Staged,
    digest: &release_desk_domain::Digest,
    port: u16,
) -> LegRecord {
    LegRecord {
        version: staged.manifest.version.clone(),
        digest: digest.clone(),
        port,
        previous: old.map(|r| Deployed {
            version: r.version.clone(),
            digest: r.digest.clone(),
        }),
    }
}

/// Starts the service on `port` and waits until it answers as `version`.
/// On failure the process is stopped again and the log's tail quoted.
pub(crate) async fn start(
    service_binary: &Path,
    paths: &LegPaths,
    port: u16,
    version: &str,
) -> Result<i32> {
    let app = paths.app();
    let port_text = port.to_string();
    let app_text = app.display().to_string();
    let pid = process::spawn_detached(
        service_binary,
        &["--root", &app_text, "--port", &port_text],
        &paths.dir,
        &paths.log(),
    )?;
    crate::state::write_atomically(&paths.pid_file(), format!("{pid}\n").as_bytes())?;
    match wait_answering(service_binary, paths, pid, port, version).await {
        Ok(()) => Ok(pid),
        Err(e) => {
            let (binary, paths) = (service_binary.to_path_buf(), paths.clone());
            let _ = crate::target::blocking(move || stop(&binary, &paths)).await;
            Err(e)
        }
    }
}

async fn wait_answering(
    service_binary: &Path,
    paths: &LegPaths,
    pid: i32,
    port: u16,
    version: &str,
) -> Result<()> {
    let client = probe::fresh_client()?;
    let url = format!("http://127.0.0.1:{port}/healthz");
    let who = identity(service_binary, paths);
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        // Any answer will do (a failing health check is the smoke test's
        // business), as long as it comes from the version just started.
        if let Ok(Answer {
            version: Some(v), ..
        }) = probe::get(&client, &url).await
        {
            if v == version {
                return Ok(());
            }
        }
        if !process::is_ours(pid, &who) {
            return Err(unavailable(format!(
                "{version} on {} exited as it started: {}",
                paths.leg.as_str(),
                process::log_tail(&paths.log(), 5)
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(timeout(format!(
                "{version} on {} did not answer on :{port} within {} s; it was stopped. Its log ends: {}",
                paths.leg.as_str(),
                START_TIMEOUT.as_secs(),
                process::log_tail(&paths.log(), 5)
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The smoke test: `/healthz` answers 200 as the deployed version and `/`
/// answers 200, each within the probe deadline.
pub(crate) async fn smoke(
    leg: Leg,
    port: u16,
    version: &str,
) -> Result<(bool, Vec<String>, Option<String>)> {
    let client = probe::fresh_client()?;
    let mut checks = Vec::new();
    let mut failure = None;
    for path in ["/healthz", "/"] {
        let url = format!("http://127.0.0.1:{port}{path}");
        match probe::get(&client, &url).await {
            Ok(answer) => {
                checks.push(format!(
                    "GET {path} → {} in {}",
                    answer.status,
                    probe::ms(answer.elapsed)
                ));
                if !answer.ok() {
                    failure.get_or_insert(format!(
                        "GET {path} on {} answered {}",
                        leg.as_str(),
                        answer.status
                    ));
                } else if path == "/healthz" && answer.version.as_deref() != Some(version) {
                    failure.get_or_insert(format!(
                        "GET /healthz on {} answered as version {}, not {version}",
                        leg.as_str(),
                        answer.version.as_deref().unwrap_or("(none)")
                    ));
                }
            }
            Err(why) => {
                checks.push(format!("GET {path} → {why}"));
                failure.get_or_insert(format!("GET {path} on {} failed: {why}", leg.as_str()));
            }
        }
    }
    Ok((failure.is_none(), checks, failure))
}
