//! Runs one promotion to its end in a process of its own, so a test can
//! kill it with SIGKILL at any moment and start another: the closest thing
//! to the app being killed mid-promotion, without a window.
//!
//! Usage: engine_runner <database file> <local target root> <sample service> <trusted key> <promotion id>

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use release_desk_engine::{Engine, EngineSettings};
use release_desk_local_target::{LocalTarget, LocalTargetConfig};
use release_desk_provider::DeploymentTarget;
use release_desk_store::Store;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: engine_runner <database> <target root> <sample service> <promotion id>");
        std::process::exit(2);
    }
    let (store, _) = Store::open(&PathBuf::from(&args[1]))
        .await
        .unwrap_or_else(|e| {
            eprintln!("engine_runner: {e}");
            std::process::exit(1)
        });
    let target = LocalTarget::new(LocalTargetConfig::new(&args[2], &args[3])).unwrap_or_else(|e| {
        eprintln!("engine_runner: {e}");
        std::process::exit(1)
    });
    let engine = Engine::new(
        store,
        vec![Arc::new(target) as Arc<dyn DeploymentTarget>],
        Arc::new(|_| {}),
        EngineSettings {
            sample: Duration::from_millis(1_000),
            retry_pause: Duration::from_millis(100),
            poll: Duration::from_millis(50),
        },
    );
    let id: i64 = args[4].parse().unwrap_or_else(|_| {
        eprintln!("engine_runner: the promotion id must be a number");
        std::process::exit(2)
    });
    match engine.run(id).await {
        Ok(p) => println!("{}", p.phase.as_str()),
        Err(e) => {
            eprintln!("engine_runner: {e}");
            std::process::exit(1)
        }
    }
}
