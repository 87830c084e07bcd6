//! What the app holds while it runs: where its files are, the database (or why
//! it cannot be used), and the credential store. Registered once with
//! `app.manage()`.

use release_desk_credentials::Credentials;
use release_desk_store::{Store, StoreError, WorkspaceInfo, DATABASE_FILE};
use serde::Serialize;
use specta::Type;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;
use tokio::sync::RwLock;

use crate::error::{AppError, Result};
use release_desk_engine::{Engine, EngineSettings, UpdateSink};
use release_desk_local_target::{LocalTarget, LocalTargetConfig};
use std::sync::Arc;

/// The sample service the local target runs for each leg: next to the app's
/// own executable (where `make build` puts it), or `RELEASE_DESK_SAMPLE_SERVICE`.
fn sample_service_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RELEASE_DESK_SAMPLE_SERVICE").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    std::env::current_exe()
        .map(|exe| exe.with_file_name("release-desk-sample-service"))
        .unwrap_or_else(|_| PathBuf::from("release-desk-sample-service"))
}

/// Where the app keeps its data and logs.
#[derive(Debug, Clone)]
pub struct AppPaths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
}

impl AppPaths {
    pub fn database_file(&self) -> PathBuf {
        self.data_dir.join(DATABASE_FILE)
    }
}

/// Why the database cannot be used, as the recovery screen shows it.
#[derive(Debug, Clone, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseProblem {
    pub code: String,
    pub message: String,
    pub file: String,
    /// Whether moving the file aside would help (damaged or newer files), as
    /// opposed to a folder that cannot be written at all.
    pub can_move_aside: bool,
}

pub(crate) enum Database {
    Ready(Store),
    Unusable(DatabaseProblem),
}

/// Called with the workspace name and the number of approvals awaiting the
/// current profile whenever either may have changed (the shell sets the window
/// title); kept as a hook so commands stay independent of the Tauri runtime.
pub type WorkspaceHook = Box<dyn Fn(Option<&str>, usize) + Send + Sync>;

pub struct AppState {
    pub paths: AppPaths,
    pub credentials: Credentials,
    pub started: Instant,
    database: RwLock<Database>,
    on_workspace_changed: OnceLock<WorkspaceHook>,
    /// Hands each promotion update to the window (set by the shell).
    on_promotion: OnceLock<UpdateSink>,
    /// Built on first use over the open store; rebuilt when the store is
    /// replaced (the demo loaded, the file moved aside).
    engine: tokio::sync::Mutex<Option<Engine>>,
    /// Hands sync progress to the window (set by the shell).
    pub(crate) on_sync: OnceLock<crate::commands::sync::SyncSink>,
    /// One sync at a time: the background schedule and a Refresh share it.
    pub(crate) sync_running: tokio::sync::Mutex<()>,
    /// Provider adapters kept between syncs (their conditional-request caches).
    /// Shared with the promotion engine, which opens pipelines through it.
    pub(crate) adapters: Arc<release_desk_sync::Adapters>,
}

impl AppState {
    /// Opens the database; a file that cannot be used leaves the app running on
    /// its recovery screen rather than failing to start.
    pub async fn open(paths: AppPaths, credentials: Credentials, started: Instant) -> Self {
        let database = open_database(&paths).await;
        Self {
            paths,
            credentials,
            started,
            database: RwLock::new(database),
            on_workspace_changed: OnceLock::new(),
            on_promotion: OnceLock::new(),
            engine: tokio::sync::Mutex::new(None),
            on_sync: OnceLock::new(),
            sync_running: tokio::sync::Mutex::new(()),
            adapters: Arc::new(release_desk_sync::Adapters::default()),
        }
    }

    pub fn on_promotion(&self, sink: UpdateSink) {
        if self.on_promotion.set(sink).is_err() {
            tracing::warn!("the promotion sink was already set; keeping the first");
        }
    }

    /// The promotion engine over the open store, with the local nginx target
    /// under `<data dir>/local-target`.
    pub async fn engine(&self) -> Result<Engine> {
        let mut engine = self.engine.lock().await;
        if let Some(e) = &*engine {
            return Ok(e.clone());
        }
        let store = self.store().await?;
        // Signatures are checked against the keys the store holds at each
        // deploy, so the engine need not be rebuilt when keys change.
        let config = LocalTargetConfig::new(
            self.paths.data_dir.join("local-target"),
            sample_service_binary(),
        );
        let target =
            LocalTarget::new(config).map_err(|e| AppError::new(e.kind.code(), e.message))?;
        let sink: UpdateSink = match self.on_promotion.get() {
            Some(s) => s.clone(),
            None => Arc::new(|_: &release_desk_promotion::Promotion| {}),
        };
        let built = Engine::new(
            store,
            vec![Arc::new(target) as Arc<dyn release_desk_provider::DeploymentTarget>],
            sink,
            EngineSettings::default(),
        );
        built.set_pipelines(Arc::new(crate::commands::sync::ShellPipelines {
            credentials: self.credentials.clone(),
            adapters: self.adapters.clone(),
        }));
        *engine = Some(built.clone());
        // Whenever an engine is built over a store (at start, after the demo
        // loads, after the database is replaced), promotions left unfinished
        // carry on; one already running in this engine is not run twice.
        match built.resume_unfinished().await {
            Ok(ids) if !ids.is_empty() => tracing::info!(?ids, "resumed unfinished promotions"),
            Ok(_) => {}
            Err(e) => tracing::error!(code = e.code(), error = %e, "could not resume promotions"),
        }
        Ok(built)
    }

    /// Drops the engine so the next use rebuilds it over the current store
    /// (after the demo loads). Running promotions keep their own handle and
    /// finish.
    pub async fn reset_engine(&self) {
        *self.engine.lock().await = None;
    }

    /// Resumes promotions the last run left unfinished (killed mid-step):
    /// building the engine does it.
    pub async fn resume_promotions(&self) {
        if self.store().await.is_err() {
            return;
        }
        if let Err(e) = self.engine().await {
            tracing::error!(code = %e.code, message = %e.message, "no promotion engine");
        }
    }

    pub fn on_workspace_changed(&self, hook: WorkspaceHook) {
        if self.on_workspace_changed.set(hook).is_err() {
            tracing::warn!("the workspace hook was already set; keeping the first");
        }
    }

    /// Recomputes what the window title shows and hands it to the hook.
    pub(crate) async fn refresh_title(&self) {
        let Some(hook) = self.on_workspace_changed.get() else {
            return;
        };
        let Ok(store) = self.store().await else {
            hook(None, 0);
            return;
        };
        let name = store.workspace().await.ok().flatten().map(|w| w.name);
        let pending = self.pending_for_current(&store).await;
        hook(name.as_deref(), pending);
    }

    async fn pending_for_current(&self, store: &Store) -> usize {
        match store.current_profile().await {
            Ok(Some(profile)) => store
                .awaiting_decision(&profile, chrono::Utc::now())
                .await
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// The profile every decision is recorded against; an error the UI turns
    /// into "choose who you are" when none is chosen.
    pub async fn current_profile(&self) -> Result<release_desk_changes::Profile> {
        let store = self.store().await?;
        store.current_profile().await?.ok_or_else(|| {
            AppError::new(
                "no_profile",
                "choose or create your profile first: every decision records who made it",
            )
        })
    }

    /// The open store, or the error the UI turns into its recovery screen.
    pub async fn store(&self) -> Result<Store> {
        match &*self.database.read().await {
            Database::Ready(store) => Ok(store.clone()),
            Database::Unusable(problem) => {
                Err(AppError::new(&problem.code, problem.message.clone()))
            }
        }
    }

    pub async fn problem(&self) -> Option<DatabaseProblem> {
        match &*self.database.read().await {
            Database::Ready(_) => None,
            Database::Unusable(problem) => Some(problem.clone()),
        }
    }

    /// Moves an unusable database file aside and opens a fresh one.
    pub async fn move_database_aside(&self) -> Result<PathBuf> {
        let mut database = self.database.write().await;
        if let Database::Ready(_) = &*database {
            return Err(AppError::new(
                "database_usable",
                "the database is working; only a damaged or unreadable file is moved aside",
            ));
        }
        let moved = release_desk_store::move_aside(&self.paths.database_file())?;
        *database = open_database(&self.paths).await;
        // The engine held the old pool.
        *self.engine.lock().await = None;
        match &*database {
            Database::Ready(_) => Ok(moved),
            Database::Unusable(problem) => {
                Err(AppError::new(&problem.code, problem.message.clone()))
            }
        }
    }

    /// Records that the store reported the file damaged while in use, so every
    /// screen switches to recovery instead of failing one query at a time. The
    /// pool is closed so the file can be moved aside.
    pub async fn note_failure(&self, error: &StoreError) {
        if error.is_unusable_file() {
            let mut database = self.database.write().await;
            if let Database::Ready(store) = &*database {
                store.close().await;
            }
            *database = Database::Unusable(problem(&self.paths, error));
            *self.engine.lock().await = None;
        }
    }

    /// Loads the demo workspace into an empty database; does nothing when a
    /// workspace is already there.
    pub async fn load_demo_if_empty(&self) -> Result<Option<WorkspaceInfo>> {
        let store = self.store().await?;
        if store.workspace().await?.is_some() {
            return Ok(None);
        }
        let now = chrono::Utc::now();
        let loaded = release_desk_demo::load_demo_guarded(
            &store,
            &self.paths.data_dir.join("artefacts"),
            now,
        )
        .await;
        if let Err(e) = loaded {
            // Nothing half-loaded stays: close, put the copy back, reopen.
            tracing::error!(%e, "the demo did not load; putting the database back");
            let mut database = self.database.write().await;
            store.close().await;
            *self.engine.lock().await = None;
            *database = open_database(&self.paths).await;
            return Err(match e {
                release_desk_demo::SampleError::Store(e) => AppError::from(e),
                e => AppError::new("demo_sample", e.to_string()),
            });
        }
        self.reset_engine().await;
        let info = store.workspace().await?;
        self.refresh_title().await;
        Ok(info)
    }

    pub async fn close(&self) {
        if let Database::Ready(store) = &*self.database.read().await {
            store.close().await;
        }
    }
}

async fn open_database(paths: &AppPaths) -> Database {
    // A demo load that did not finish (killed, crashed) is undone before the
    // file is opened: the database is the whole demo or what it was before.
    match release_desk_demo::recover_interrupted_load(&paths.database_file()) {
        Ok(true) => {
            tracing::warn!("the last demo load did not finish; the database is as it was before it")
        }
        Ok(false) => {}
        Err(e) => tracing::error!(%e, "an interrupted demo load could not be undone"),
    }
    match Store::open(&paths.database_file()).await {
        Ok((store, report)) => {
            tracing::info!(file = %store.file().display(), applied = ?report.applied, backup = ?report.backup, "database open");
            Database::Ready(store)
        }
        Err(error) => {
            tracing::error!(code = error.code(), %error, "database cannot be used");
            Database::Unusable(problem(paths, &error))
        }
    }
}

fn problem(paths: &AppPaths, error: &StoreError) -> DatabaseProblem {
    DatabaseProblem {
        code: error.code().to_owned(),
        message: error.to_string(),
        file: paths.database_file().display().to_string(),
        can_move_aside: error.is_unusable_file(),
    }
}
