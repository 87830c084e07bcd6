//! Starting the real app and stopping it again, for every measurement that
//! needs it: start the built binary on a prepared data folder, wait for the
//! line it prints once the screen being measured has rendered with data,
//! measure, and stop the whole process tree. Cold start and memory (the
//! dashboard) is one such measurement; the release calendar's month view
//! (`crate::month_view`) is another.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{BenchError, Result};
use crate::procfs::{is_running, process_name, process_tree, tree_memory, ProcessMemory};
use crate::stats::percentile;

/// The app prints this (with `RELEASE_DESK_BENCH` set) when the UI reports
/// that the dashboard has rendered with data.
pub const DASHBOARD_LINE: &str = "release-desk: dashboard rendered after";
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Start-up work (WebKit's caches, the first paint, deferred loads) goes on
/// briefly after the first render; memory is read once it has settled.
pub const SETTLE: Duration = Duration::from_secs(3);
/// How long the tree gets to exit after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(100);

/// What one start of the app measured.
#[derive(Debug, Clone)]
pub struct AppRun {
    /// From just before spawning to reading the ready line on its stdout.
    pub cold_start: Duration,
    /// The app's own figure from the ready line (from its `main`).
    pub app_reported_ms: Option<u64>,
    /// Largest first.
    pub processes: Vec<ProcessMemory>,
}

impl AppRun {
    pub fn total_pss_bytes(&self) -> u64 {
        self.processes.iter().map(|p| p.pss_bytes).sum()
    }
}

/// How to start the app for one measurement, and the line that ends the wait.
pub struct AppTarget<'a> {
    pub binary: &'a Path,
    /// Names the measurement in errors, e.g. "workspace 'demo'".
    pub label: &'a str,
    pub data_dir: &'a Path,
    pub logs_dir: &'a Path,
    /// Set for the app besides `RELEASE_DESK_BENCH` and the two folders,
    /// e.g. the screen to open first.
    pub env: &'a [(&'a str, &'a str)],
    /// The start of the stdout line the app prints once the screen measured
    /// has rendered with data.
    pub ready_line: &'a str,
}

/// The ready line, and when it arrived.
#[derive(Debug, Clone)]
pub struct Ready {
    /// From just before spawning to reading the line.
    pub after: Duration,
    pub line: String,
}

/// Starts the app, waits for its ready line, hands the running app's pid
/// and the line to `measure`, then stops the app's processes whether or not
/// any of that succeeded.
pub fn run_until_ready<T>(
    target: &AppTarget<'_>,
    run: usize,
    measure: impl FnOnce(u32, Ready) -> Result<T>,
) -> Result<T> {
    let stderr_log = target.logs_dir.join(format!("app-stderr-run{run}.log"));
    let stderr = File::create(&stderr_log).map_err(BenchError::TempDir)?;
    let mut command = Command::new(target.binary);
    command
        .env("RELEASE_DESK_BENCH", "1")
        .env("RELEASE_DESK_DATA_DIR", target.data_dir)
        .env("RELEASE_DESK_LOG_DIR", target.logs_dir)
        .envs(target.env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));

    let spawned_at = Instant::now();
    let mut child = command.spawn().map_err(|source| BenchError::Spawn {
        path: target.binary.to_path_buf(),
        source,
    })?;
    let measured = wait_for_ready(&mut child, target, run, &stderr_log).and_then(|(at, line)| {
        let ready = Ready {
            after: at.saturating_duration_since(spawned_at),
            line,
        };
        measure(child.id(), ready)
    });
    let stopped = stop_tree(&mut child);
    let measured = measured?;
    stopped?;
    Ok(measured)
}

/// Cold start and memory: waits for the dashboard's line, lets the app
/// settle, and adds up the PSS of its process tree.
pub fn measure_cold_start(target: &AppTarget<'_>, run: usize) -> Result<AppRun> {
    run_until_ready(target, run, |pid, ready| {
        thread::sleep(SETTLE);
        let processes = tree_memory(pid).map_err(|detail| BenchError::Memory { pid, detail })?;
        Ok(AppRun {
            cold_start: ready.after,
            app_reported_ms: parse_reported_ms(&ready.line),
            processes,
        })
    })
}

/// Reads the app's stdout on a thread of its own, stamping each line as it
/// arrives, so the time is not skewed by how often this thread looks. The
/// thread keeps draining stdout to the end so the app never blocks on a full
/// pipe; it ends when the app's processes are gone.
fn wait_for_ready(
    child: &mut Child,
    target: &AppTarget<'_>,
    run: usize,
    stderr_log: &Path,
) -> Result<(Instant, String)> {
    let (lines_tx, lines) = mpsc::channel::<(Instant, String)>();
    if let Some(stdout) = child.stdout.take() {
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // Nobody listening any more is fine: keep draining.
                let _ = lines_tx.send((Instant::now(), line));
            }
        });
    }
    // Without a stdout reader the channel is already closed and the loop below
    // reports the app as exited or silent, which is what it looks like.
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Err(BenchError::NotReady {
                label: target.label.to_owned(),
                line: target.ready_line.to_owned(),
                run,
                timeout_s: READY_TIMEOUT.as_secs(),
                processes: running_names(child.id()),
                stderr_tail: tail(stderr_log),
            });
        }
        match lines.recv_timeout(POLL.min(deadline - now)) {
            Ok((at, line)) if line.starts_with(target.ready_line) => return Ok((at, line)),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            // stdout closed: the app has exited or is about to.
            Err(RecvTimeoutError::Disconnected) => thread::sleep(POLL),
        }
        if let Some(status) = child.try_wait().map_err(BenchError::Stop)? {
            return Err(BenchError::ExitedEarly {
                label: target.label.to_owned(),
                line: target.ready_line.to_owned(),
                run,
                status: status.to_string(),
                stderr_tail: tail(stderr_log),
            });
        }
    }
}

/// SIGTERM to the app and every descendant, SIGKILL to whatever is left after
/// the grace period, then reap the app. Descendants are listed before the
/// first signal: once the app dies they are re-parented and no longer found
/// by walking down from it.
fn stop_tree(child: &mut Child) -> Result<()> {
    let pids = process_tree(child.id());
    signal("TERM", &pids)?;
    let deadline = Instant::now() + TERM_GRACE;
    loop {
        let app_done = child.try_wait().map_err(BenchError::Stop)?.is_some();
        if app_done && !pids.iter().any(|&p| is_running(p)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let left: Vec<u32> = pids.into_iter().filter(|&p| is_running(p)).collect();
    eprintln!(
        "    {} process(es) still running {} s after SIGTERM; sending SIGKILL",
        left.len(),
        TERM_GRACE.as_secs()
    );
    signal("KILL", &left)?;
    child.wait().map_err(BenchError::Stop)?;
    Ok(())
}

/// Signals with the `kill` command, which keeps this crate free of `unsafe`.
/// Its exit status is ignored: a process that ended in the meantime makes it
/// fail, and that is the outcome wanted anyway.
fn signal(name: &str, pids: &[u32]) -> Result<()> {
    if pids.is_empty() {
        return Ok(());
    }
    Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(BenchError::Stop)?;
    Ok(())
}

/// The number in "release-desk: dashboard rendered after 812 ms".
pub fn parse_reported_ms(line: &str) -> Option<u64> {
    line.strip_prefix(DASHBOARD_LINE)?
        .trim()
        .strip_suffix("ms")?
        .trim()
        .parse()
        .ok()
}

/// Which processes the app had started, to tell a UI that never loaded from
/// a web process that never started.
fn running_names(root: u32) -> String {
    let names: Vec<String> = process_tree(root)
        .into_iter()
        .map(|pid| format!("{} ({pid})", process_name(pid)))
        .collect();
    names.join(", ")
}

/// The last lines of the app's stderr, to explain a failure. Colour codes
/// are removed: the app's log colours its output even into a file.
fn tail(path: &Path) -> String {
    const LINES: usize = 20;
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            let text = strip_ansi(&text);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LINES)..].join("\n")
        }
        Ok(_) => "(stderr was empty)".to_owned(),
        Err(e) => format!("(could not read {}: {e})", path.display()),
    }
}

/// Removes ANSI CSI sequences (ESC `[` parameters, then one final byte in
/// `@`..=`~`), which is all a terminal-colouring logger writes.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every run of one workspace, and the figures the report shows.
#[derive(Debug, Clone)]
pub struct AppMeasure {
    pub runs: Vec<AppRun>,
}

impl AppMeasure {
    /// Cold start in ms: (median, min, max); the median is nearest-rank.
    pub fn cold_start_ms(&self) -> Option<(f64, f64, f64)> {
        let mut ms: Vec<f64> = self
            .runs
            .iter()
            .map(|r| r.cold_start.as_secs_f64() * 1_000.0)
            .collect();
        ms.sort_by(f64::total_cmp);
        Some((percentile(&ms, 50)?, *ms.first()?, *ms.last()?))
    }

    /// The run whose total PSS is the (nearest-rank) median.
    pub fn median_memory_run(&self) -> Option<&AppRun> {
        let mut runs: Vec<&AppRun> = self.runs.iter().collect();
        runs.sort_by_key(|r| r.total_pss_bytes());
        let index = (runs.len() * 50).div_ceil(100).max(1) - 1;
        runs.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ms: u64, pss: &[u64]) -> AppRun {
        AppRun {
            cold_start: Duration::from_millis(ms),
            app_reported_ms: None,
            processes: pss
                .iter()
                .enumerate()
                .map(|(i, &pss_bytes)| ProcessMemory {
                    pid: i as u32 + 1,
                    name: format!("p{i}"),
                    pss_bytes,
                })
                .collect(),
        }
    }

    /// A stand-in for the app: a shell script with a child process, as the
    /// real app has WebKit's.
    fn fake_app(dir: &Path, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("fake-app.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// Starts the fake app once. Another test thread that forks while the
    /// script is being written keeps a handle on it open until its child
    /// execs, and starting the script then fails with "Text file busy"
    /// (ETXTBSY): a race between tests, not a fault of the harness, so the
    /// start is retried briefly.
    fn retrying<T>(mut start: impl FnMut() -> Result<T>) -> Result<T> {
        for _ in 0..20 {
            match start() {
                Err(BenchError::Spawn { source, .. })
                    if source.kind() == std::io::ErrorKind::ExecutableFileBusy =>
                {
                    thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
        start()
    }

    fn dashboard<'a>(binary: &'a Path, dir: &'a Path) -> AppTarget<'a> {
        AppTarget {
            binary,
            label: "workspace 'test'",
            data_dir: dir,
            logs_dir: dir,
            env: &[],
            ready_line: DASHBOARD_LINE,
        }
    }

    #[test]
    fn measures_a_tree_that_renders_and_stops_all_of_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let binary = fake_app(
            dir.path(),
            "sleep 30 &\necho \"data dir $RELEASE_DESK_DATA_DIR\"\necho 'release-desk: dashboard rendered after 42 ms'\nwait",
        );
        let target = dashboard(&binary, dir.path());
        let run = retrying(|| measure_cold_start(&target, 1)).expect("the fake app renders");
        assert_eq!(run.app_reported_ms, Some(42));
        assert!(run.cold_start < READY_TIMEOUT, "{:?}", run.cold_start);
        assert!(run.processes.len() >= 2, "{:?}", run.processes);
        assert!(
            run.processes.iter().any(|p| p.name == "sleep"),
            "{:?}",
            run.processes
        );
        assert!(run.total_pss_bytes() > 0);
        for p in &run.processes {
            assert!(!is_running(p.pid), "{} ({}) still runs", p.name, p.pid);
        }
    }

    /// Another screen: its own variables reach the app, earlier lines (the
    /// dashboard's) are passed over, and the tree is stopped all the same.
    #[test]
    fn waits_for_the_line_asked_for_with_the_variables_given() {
        let dir = tempfile::tempdir().expect("tempdir");
        let binary = fake_app(
            dir.path(),
            "sleep 30 &\necho 'release-desk: dashboard rendered after 42 ms'\necho \"release-desk: calendar dayGridMonth rendered 7 events in 12 ms at $RELEASE_DESK_START_ROUTE\"\nwait",
        );
        let target = AppTarget {
            label: "calendar month view",
            env: &[("RELEASE_DESK_START_ROUTE", "/calendar?date=2027-02-01")],
            ready_line: "release-desk: calendar dayGridMonth rendered",
            ..dashboard(&binary, dir.path())
        };
        let mut tree = Vec::new();
        let ready = retrying(|| {
            run_until_ready(&target, 1, |pid, ready| {
                tree = process_tree(pid);
                Ok(ready)
            })
        })
        .expect("the fake app renders the calendar");
        assert_eq!(
            ready.line,
            "release-desk: calendar dayGridMonth rendered 7 events in 12 ms at /calendar?date=2027-02-01"
        );
        assert!(ready.after < READY_TIMEOUT, "{:?}", ready.after);
        assert!(tree.len() >= 2, "{tree:?}");
        for pid in tree {
            assert!(!is_running(pid), "{pid} still runs");
        }
    }

    #[test]
    fn an_app_that_exits_before_rendering_is_an_error_with_its_stderr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let binary = fake_app(dir.path(), "echo 'no display' >&2\nexit 3");
        let target = dashboard(&binary, dir.path());
        match retrying(|| measure_cold_start(&target, 1)) {
            Err(err @ BenchError::ExitedEarly { .. }) => {
                let message = err.to_string();
                assert!(message.contains("no display"), "{message}");
                assert!(
                    message.contains("before printing 'release-desk: dashboard rendered after …' (run 1, workspace 'test')"),
                    "{message}"
                );
            }
            other => panic!("expected ExitedEarly, got {other:?}"),
        }
    }

    #[test]
    fn colour_codes_are_removed_from_log_lines() {
        let line =
            "\u{1b}[2m2026-11-22T04:25:59Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m Release Desk starting";
        assert_eq!(
            strip_ansi(line),
            "2026-11-22T04:25:59Z  INFO Release Desk starting"
        );
        assert_eq!(strip_ansi("plain [text]"), "plain [text]");
    }

    #[test]
    fn reported_ms_is_read_from_the_ready_line() {
        assert_eq!(
            parse_reported_ms("release-desk: dashboard rendered after 812 ms"),
            Some(812)
        );
        assert_eq!(
            parse_reported_ms("release-desk: dashboard rendered after 5ms"),
            Some(5)
        );
        assert_eq!(
            parse_reported_ms("release-desk: dashboard rendered after soon"),
            None
        );
        assert_eq!(parse_reported_ms("something else 812 ms"), None);
    }

    #[test]
    fn cold_start_median_min_max() {
        let m = AppMeasure {
            runs: vec![
                run(900, &[1]),
                run(300, &[1]),
                run(500, &[1]),
                run(700, &[1]),
                run(400, &[1]),
            ],
        };
        assert_eq!(m.cold_start_ms(), Some((500.0, 300.0, 900.0)));
    }

    #[test]
    fn median_memory_run_is_by_total_pss() {
        let m = AppMeasure {
            runs: vec![run(1, &[50, 50]), run(2, &[10]), run(3, &[30, 30])],
        };
        assert_eq!(m.median_memory_run().map(AppRun::total_pss_bytes), Some(60));
        let none = AppMeasure { runs: Vec::new() };
        assert!(none.median_memory_run().is_none());
        assert!(none.cold_start_ms().is_none());
    }
}
