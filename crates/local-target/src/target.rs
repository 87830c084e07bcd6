//! [`LocalTarget`]: the local blue-green target as the promotion engine sees
//! it. This file holds its configuration, the layout of its root, the
//! per-service locks, the record of keyed actions, the read-only calls
//! (status, health check) and the trait implementation, which delegates each
//! action to its own module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use release_desk_domain::Leg;
use release_desk_provider::{
    ActionKey, ArtefactRef, DeploymentTarget, HealthReport, LegStatus, Observation, RollbackPlan,
    StepReport, StrategyKind, TargetInfo, TargetRef, TargetStatus,
};

use crate::actions::ActionBook;
use crate::error::{io, io_at, refused, Result};
use crate::legs;
use crate::nginx::{self, NginxPaths};
use crate::ports;
use crate::state::{LegPaths, Stored};

/// How a [`LocalTarget`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTargetConfig {
    /// Where everything lives (under the app's data directory).
    pub root: PathBuf,
    /// The proxy port for the first service and environment; later ones take
    /// the next free ports. 0 picks free high ports. Chosen ports are kept in
    /// `<root>/ports.json`, so restarts use the same ones.
    pub listen_port: u16,
    pub nginx_binary: PathBuf,
    /// The `release-desk-sample-service` binary that serves each leg.
    pub service_binary: PathBuf,
}

impl LocalTargetConfig {
    /// A configuration with free ports and nginx found on the PATH.
    /// Signatures are checked against the keys each deploy carries
    /// ([`ArtefactRef::trusted_keys`](release_desk_provider::ArtefactRef)),
    /// never against keys captured when the target was built.
    pub fn new(root: impl Into<PathBuf>, service_binary: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            listen_port: 0,
            nginx_binary: default_nginx_binary(),
            service_binary: service_binary.into(),
        }
    }
}

/// `nginx` from the PATH, else `/usr/sbin/nginx` (Debian's place, often not
/// on an unprivileged user's PATH).
pub fn default_nginx_binary() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("nginx"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// The ports one service in one environment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignedPorts {
    pub proxy: u16,
    pub blue: u16,
    pub green: u16,
}

impl AssignedPorts {
    pub fn leg(&self, leg: Leg) -> u16 {
        match leg {
            Leg::Blue => self.blue,
            Leg::Green => self.green,
        }
    }
}

/// A blue-green deployment target on this machine: per service and
/// environment, two legs each running the sample service from an unpacked,
/// signature-checked artefact, and an nginx sending traffic to the live one.
pub struct LocalTarget {
    pub(crate) config: LocalTargetConfig,
    pub(crate) actions: ActionBook,
    locks: Mutex<HashMap<TargetRef, Arc<tokio::sync::Mutex<()>>>>,
    ports_lock: Mutex<()>,
}

impl std::fmt::Debug for LocalTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTarget")
            .field("root", &self.config.root)
            .finish_non_exhaustive()
    }
}

/// The paths of one service in one environment.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub dir: PathBuf,
    pub nginx: NginxPaths,
    pub label: String,
}

impl Layout {
    pub(crate) fn leg(&self, leg: Leg) -> LegPaths {
        LegPaths::new(&self.dir, leg)
    }
}

impl LocalTarget {
    /// Checks the configuration and creates the root. Processes started by an
    /// earlier run under the same root are found again, not restarted.
    pub fn new(mut config: LocalTargetConfig) -> Result<Self> {
        config.root =
            std::path::absolute(&config.root).map_err(|e| io_at("resolve", &config.root, e))?;
        nginx::check_config_path(&config.root)?;
        std::fs::create_dir_all(&config.root).map_err(|e| io_at("create", &config.root, e))?;
        for (what, path) in [
            ("nginx", &config.nginx_binary),
            ("the sample service", &config.service_binary),
        ] {
            if !path.is_file() {
                return Err(io(format!(
                    "{what} was not found at {}: install it or point the local target at it",
                    path.display()
                )));
            }
        }
        Ok(Self {
            actions: ActionBook::new(&config.root),
            config,
            locks: Mutex::new(HashMap::new()),
            ports_lock: Mutex::new(()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.config.root
    }

    pub(crate) fn layout(&self, target: &TargetRef) -> Layout {
        let dir = self
            .config
            .root
            .join(target.service.as_str())
            .join(target.environment.as_str());
        Layout {
            nginx: NginxPaths::new(&dir),
            dir,
            label: format!("{}/{}", target.service, target.environment),
        }
    }

    fn ports_file(&self) -> PathBuf {
        self.config.root.join("ports.json")
    }

    /// The ports of a service in an environment, chosen (and kept) on first use.
    pub fn assigned_ports(&self, target: &TargetRef) -> Result<AssignedPorts> {
        let _guard = self
            .ports_lock
            .lock()
            .map_err(|_| io("the port book's lock was poisoned"))?;
        let base = format!("{}/{}", target.service, target.environment);
        let preferred = (self.config.listen_port != 0).then_some(self.config.listen_port);
        let file = self.ports_file();
        Ok(AssignedPorts {
            proxy: ports::assign(&file, &format!("{base}/proxy"), preferred)?,
            blue: ports::assign(&file, &format!("{base}/blue"), None)?,
            green: ports::assign(&file, &format!("{base}/green"), None)?,
        })
    }

    /// Gives a leg a new port because another program holds its old one.
    pub(crate) fn reassign_leg_port(&self, target: &TargetRef, leg: Leg) -> Result<u16> {
        let _guard = self
            .ports_lock
            .lock()
            .map_err(|_| io("the port book's lock was poisoned"))?;
        let name = format!("{}/{}/{}", target.service, target.environment, leg.as_str());
        ports::reassign(&self.ports_file(), &name)
    }

    /// Where the service's traffic goes in: `http://127.0.0.1:<proxy port>/`.
    pub fn proxy_url(&self, target: &TargetRef) -> Result<String> {
        Ok(format!(
            "http://127.0.0.1:{}/",
            self.assigned_ports(target)?.proxy
        ))
    }

    pub(crate) fn lock(&self, target: &TargetRef) -> Result<Arc<tokio::sync::Mutex<()>>> {
        let mut locks = self
            .locks
            .lock()
            .map_err(|_| io("the target's lock table was poisoned"))?;
        Ok(locks.entry(target.clone()).or_default().clone())
    }

    /// Runs a keyed action once: a key seen before returns its recorded
    /// result. Actions on one service in one environment run one at a time.
    pub(crate) async fn keyed<F>(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        action: String,
        run: F,
    ) -> Result<StepReport>
    where
        F: std::future::Future<Output = Result<StepReport>>,
    {
        let lock = self.lock(target)?;
        let _held = lock.lock().await;
        if let Some(replayed) = self.actions.replay(key, &action) {
            return replayed;
        }
        let outcome = run.await;
        self.actions.record(key, &action, &outcome);
        outcome
    }

    /// The routing nginx is using, if it is running.
    pub(crate) fn live_routing(&self, layout: &Layout) -> Option<nginx::Routing> {
        nginx::running(&layout.nginx)?;
        nginx::read_routing(&layout.nginx)
    }

    /// Stops the nginx and both legs of one service in one environment.
    pub async fn stop(&self, target: &TargetRef) -> Result<()> {
        let layout = self.layout(target);
        let binary = self.config.service_binary.clone();
        blocking(move || stop_layout(&binary, &layout)).await
    }

    /// Stops every nginx and leg under the root.
    pub async fn shutdown_all(&self) -> Result<()> {
        let root = self.config.root.clone();
        let binary = self.config.service_binary.clone();
        blocking(move || shutdown_root(&root, &binary)).await
    }

    /// [`Self::shutdown_all`] for places that cannot await, such as `Drop`.
    pub fn shutdown_all_blocking(&self) -> Result<()> {
        shutdown_root(&self.config.root, &self.config.service_binary)
    }

    async fn read_status(&self, target: &TargetRef) -> Result<TargetStatus> {
        let layout = self.layout(target);
        let routing = self.served_routing(target, &layout).await?;
        let mut legs = Vec::new();
        for leg in [Leg::Blue, Leg::Green] {
            let state = legs::read(&self.config.service_binary, &layout.leg(leg));
            if let Stored::Unreadable(why) = &state.record {
                tracing::warn!(
                    "{}: {why}; what runs on {} is unknown",
                    layout.label,
                    leg.as_str()
                );
            }
            let record = state.record();
            let healthy = match (state.running(), record) {
                (true, Some(r)) => Some(legs::smoke(leg, r.port, &r.version).await?.0),
                (true, None) => Some(false),
                (false, _) => None,
            };
            legs.push(LegStatus {
                leg,
                digest: record.map(|r| r.digest.clone()),
                version: record.map(|r| r.version.clone()),
                running: state.running(),
                healthy,
                endpoint: record.map(|r| format!("127.0.0.1:{}", r.port)),
            });
        }
        Ok(TargetStatus {
            live: routing.map(|r| r.live),
            legs,
        })
    }

    async fn check_leg(&self, target: &TargetRef, leg: Leg) -> Result<HealthReport> {
        let layout = self.layout(target);
        let state = legs::read(&self.config.service_binary, &layout.leg(leg));
        let not_passed = |failure: String| HealthReport {
            passed: false,
            checks: vec![],
            failure: Some(failure),
        };
        let record = match &state.record {
            Stored::Found(record) => record,
            Stored::Missing => {
                return Ok(not_passed(format!(
                    "nothing is deployed on {}",
                    leg.as_str()
                )))
            }
            Stored::Unreadable(why) => {
                return Ok(not_passed(format!(
                    "what runs on {} is unknown: {why}",
                    leg.as_str()
                )))
            }
        };
        if !state.running() {
            return Ok(not_passed(format!(
                "{} on {} is not running",
                record.version,
                leg.as_str()
            )));
        }
        let (passed, checks, failure) = legs::smoke(leg, record.port, &record.version).await?;
        Ok(HealthReport {
            passed,
            checks,
            failure,
        })
    }
}

/// Runs blocking work (process waits, hashing, unpacking) off the runtime.
pub(crate) async fn blocking<T, F>(work: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| io(format!("a background task failed: {e}")))?
}

fn stop_layout(service_binary: &Path, layout: &Layout) -> Result<()> {
    // nginx first, so nothing is routed to a leg that is going away.
    nginx::stop(&layout.nginx)?;
    for leg in [Leg::Blue, Leg::Green] {
        legs::stop(service_binary, &layout.leg(leg))?;
    }
    Ok(())
}

fn shutdown_root(root: &Path, service_binary: &Path) -> Result<()> {
    let Ok(services) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for service in services.flatten().filter(|e| e.path().is_dir()) {
        if service.file_name() == "actions" {
            continue;
        }
        let Ok(envs) = std::fs::read_dir(service.path()) else {
            continue;
        };
        for env in envs.flatten().filter(|e| e.path().is_dir()) {
            let dir = env.path();
            let layout = Layout {
                nginx: NginxPaths::new(&dir),
                label: dir.display().to_string(),
                dir,
            };
            stop_layout(service_binary, &layout)?;
        }
    }
    Ok(())
}

/// Refuses an artefact of another service.
pub(crate) fn check_service(target: &TargetRef, artefact: &ArtefactRef) -> Result<()> {
    if artefact.service != target.service {
        return Err(refused(format!(
            "{} {} is an artefact of {}, not of {}",
            artefact.service, artefact.version, artefact.service, target.service
        )));
    }
    Ok(())
}

/// The first characters of a digest, for summaries.
pub(crate) fn short_digest(digest: &release_desk_domain::Digest) -> String {
    format!("sha256 {}…", &digest.hex()[..8])
}

#[async_trait]
impl DeploymentTarget for LocalTarget {
    fn info(&self) -> TargetInfo {
        TargetInfo {
            provider: "local-nginx".to_owned(),
            description: format!(
                "Local nginx blue-green on 127.0.0.1 (state in {})",
                self.config.root.display()
            ),
            strategies: vec![StrategyKind::BlueGreen, StrategyKind::Rolling],
        }
    }

    async fn status(&self, target: &TargetRef) -> Result<TargetStatus> {
        self.read_status(target).await
    }

    async fn deploy(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        leg: Leg,
        artefact: &ArtefactRef,
    ) -> Result<StepReport> {
        let action = format!(
            "deploy {} {} to {} of {}/{}",
            artefact.version,
            artefact.digest,
            leg.as_str(),
            target.service,
            target.environment
        );
        self.keyed(
            key,
            target,
            action,
            self.deploy_to_leg(target, leg, artefact),
        )
        .await
    }

    async fn health_check(&self, target: &TargetRef, leg: Leg) -> Result<HealthReport> {
        self.check_leg(target, leg).await
    }

    async fn switch_traffic(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        to: Leg,
    ) -> Result<StepReport> {
        let action = format!(
            "switch {}/{} to {}",
            target.service,
            target.environment,
            to.as_str()
        );
        self.keyed(key, target, action, self.switch_to(target, to))
            .await
    }

    async fn observe(&self, target: &TargetRef, period: Duration) -> Result<Observation> {
        self.watch(target, period).await
    }

    async fn rolling_update(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        artefact: &ArtefactRef,
    ) -> Result<StepReport> {
        let action = format!(
            "rolling update of {}/{} to {} {}",
            target.service, target.environment, artefact.version, artefact.digest
        );
        self.keyed(key, target, action, self.roll_out(target, artefact))
            .await
    }

    async fn roll_back(
        &self,
        key: &ActionKey,
        target: &TargetRef,
        plan: &RollbackPlan,
    ) -> Result<StepReport> {
        let action = match plan {
            RollbackPlan::SwitchTo { leg } => format!(
                "roll back {}/{} by switching to {}",
                target.service,
                target.environment,
                leg.as_str()
            ),
            RollbackPlan::Redeploy { artefact } => format!(
                "roll back {}/{} by redeploying {} {}",
                target.service, target.environment, artefact.version, artefact.digest
            ),
        };
        self.keyed(key, target, action, self.restore(target, plan))
            .await
    }
}
