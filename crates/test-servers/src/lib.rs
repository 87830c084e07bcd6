//! Prism mock servers for the contract tests, one per description per test
//! binary.
//!
//! Prism (`@stoplight/prism-cli`, installed by `scripts/setup.sh` into
//! `tests/contracts/node_modules`) serves a provider's OpenAPI description
//! with request validation on (`--errors`): a request the provider would
//! reject is answered 4xx, so the adapter's real code is checked against the
//! provider's own description.
//!
//! Started once per test binary (it takes about three seconds) from a thread
//! that lives as long as the binary, with `PR_SET_PDEATHSIG`, so the server
//! is killed when the test binary exits, however it exits.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

/// The repository's root (this crate is at `crates/test-servers`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running Prism.
#[derive(Debug, Clone)]
pub struct Prism {
    pub base_url: String,
}

/// The Prism serving `spec` (a path under `tests/contracts/`), started on
/// first use. Panics with what to do when Prism is not installed: a test
/// support crate, never linked into the app.
pub fn prism(spec: &str) -> Prism {
    static SERVERS: OnceLock<Mutex<HashMap<String, Prism>>> = OnceLock::new();
    let servers = SERVERS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut servers = servers.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(p) = servers.get(spec) {
        return p.clone();
    }
    let started = start(spec);
    servers.insert(spec.to_string(), started.clone());
    started
}

fn start(spec: &str) -> Prism {
    let root = repo_root();
    let bin = root.join("tests/contracts/node_modules/.bin/prism");
    assert!(
        bin.exists(),
        "Prism is not installed at {}: run scripts/setup.sh (make test does)",
        bin.display()
    );
    let spec_path = root.join("tests/contracts").join(spec);
    assert!(
        spec_path.exists(),
        "no description at {}",
        spec_path.display()
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
    let args = (bin, spec_path, port);
    // The thread that spawns Prism must outlive every test: PDEATHSIG fires
    // when the spawning thread ends, and this one ends with the process.
    std::thread::spawn(move || {
        let (bin, spec_path, port) = args;
        let mut command = Command::new(&bin);
        command
            .args(["mock", "--errors", "-h", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg(&spec_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: prctl is async-signal-safe and touches no memory of ours.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = match command.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = ready_tx.send(Err(format!("Prism did not start: {e}")));
                return;
            }
        };
        let Some(stdout) = child.stdout.take() else {
            let _ = ready_tx.send(Err("Prism's output could not be read".into()));
            return;
        };
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("Prism is listening on") {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(Ok(()));
                }
            }
            if std::env::var_os("PRISM_LOG").is_some() {
                eprintln!("prism: {line}");
            }
        }
        let status = child.wait();
        if let Some(tx) = ready.take() {
            let _ = tx.send(Err(format!("Prism exited before it was ready: {status:?}")));
        }
        // Keep the thread (and so the PDEATHSIG parent) alive.
        loop {
            std::thread::park();
        }
    });
    match ready_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(())) => Prism {
            base_url: format!("http://127.0.0.1:{port}"),
        },
        Ok(Err(e)) => panic!("{e}"),
        Err(_) => panic!("Prism was not ready after 60 s"),
    }
}
