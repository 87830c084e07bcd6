//! Starting, finding and stopping the target's processes. They run detached
//! from the app (their own session, output to log files) so that the app
//! exiting, or being killed, never takes traffic down, and they are found
//! again from pid files checked against the process's command line, so a pid
//! reused by an unrelated program is never mistaken for ours.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::error::{io, io_at, Result};

/// Who a process must be to count as ours. Matched against its arguments
/// one by one, not as a substring of the joined command line, so a program
/// that merely mentions our binary and folder (an editor, a shell command, a
/// grep) is never signalled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The sample service: its program's file name is `program` and it has
    /// `--root <app>` as two arguments.
    Leg { program: String, app: String },
    /// nginx run with `-p <prefix> -c …`. A running master rewrites its
    /// title to "nginx: master process <its command line>", one string.
    Nginx { prefix: String },
}

impl Identity {
    pub(crate) fn matches(&self, argv: &[String]) -> bool {
        let program_is = |name: &str| {
            argv.first()
                .and_then(|a| Path::new(a).file_name())
                .is_some_and(|n| n == name)
        };
        match self {
            Self::Leg { program, app } => {
                program_is(program) && argv.windows(2).any(|w| w[0] == "--root" && &w[1] == app)
            }
            Self::Nginx { prefix } => {
                let line = argv.join(" ");
                (program_is("nginx") || line.starts_with("nginx: master process "))
                    && line.contains(&format!(" -p {prefix} -c "))
            }
        }
    }
}

/// Reads a pid file; anything but a positive number is "no pid".
pub(crate) fn read_pid(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    text.trim().parse::<i32>().ok().filter(|pid| *pid > 1)
}

/// The arguments of a live process; `None` for a process that does not
/// exist or has exited (a zombie has none).
pub(crate) fn arguments(pid: i32) -> Option<Vec<String>> {
    #[cfg(target_os = "linux")]
    {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let argv: Vec<String> = String::from_utf8_lossy(&raw)
            .split('\0')
            .filter(|part| !part.is_empty())
            .map(str::to_owned)
            .collect();
        (!argv.is_empty()).then_some(argv)
    }
    #[cfg(not(target_os = "linux"))]
    {
        // No /proc: ask ps, which every Unix has.
        let out = std::process::Command::new("ps")
            .args(["-o", "stat=,command=", "-p", &pid.to_string()])
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let (stat, command) = text.split_once(char::is_whitespace)?;
        // ps joins the arguments with spaces: split them back (a path with
        // a space in it then fails to match, which errs on the safe side).
        (!stat.starts_with('Z') && !command.trim().is_empty())
            .then(|| command.split_whitespace().map(str::to_owned).collect())
    }
}

/// Every live process as (pid, parent pid, arguments).
fn processes() -> Vec<(i32, Option<i32>, Vec<String>)> {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
            .filter_map(|pid| Some((pid, parent_of(pid), arguments(pid)?)))
            .collect()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let Ok(out) = std::process::Command::new("ps")
            .args(["-A", "-o", "pid=,ppid=,command="])
            .output()
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let pid = parts.next()?.parse().ok()?;
                let ppid = parts.next()?.parse().ok();
                Some((pid, ppid, parts.map(str::to_owned).collect()))
            })
            .collect()
    }
}

/// The live children of `parent` with their command lines (arguments
/// joined by spaces, as nginx titles its workers).
pub(crate) fn children(parent: i32) -> Vec<(i32, String)> {
    processes()
        .into_iter()
        .filter(|(_, ppid, _)| *ppid == Some(parent))
        .map(|(pid, _, argv)| (pid, argv.join(" ")))
        .collect()
}

/// Every live process that is `who`, whether or not a pid file names it: a
/// leg process whose parent was killed between starting it and writing its
/// pid file is found only this way.
pub(crate) fn all_ours(who: &Identity) -> Vec<i32> {
    processes()
        .into_iter()
        .filter(|(_, _, argv)| who.matches(argv))
        .map(|(pid, _, _)| pid)
        .collect()
}

#[cfg(target_os = "linux")]
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name in parentheses may hold spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

/// True when `pid` is alive and is `who`.
pub(crate) fn is_ours(pid: i32, who: &Identity) -> bool {
    arguments(pid).is_some_and(|argv| who.matches(&argv))
}

/// The pid in `pid_file` if that process is alive and ours.
pub(crate) fn running_from(pid_file: &Path, who: &Identity) -> Option<i32> {
    read_pid(pid_file).filter(|pid| is_ours(*pid, who))
}

pub(crate) fn signal(pid: i32, signal: libc::c_int) -> Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours; the
    // pid was just checked to be one of our processes.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ESRCH) {
            Ok(()) // Already gone, which is what the caller wanted.
        } else {
            Err(io(format!("could not signal process {pid}: {err}")))
        }
    }
}

/// One of our processes, pinned by a pidfd where the kernel has them (Linux
/// 5.3 and later): a signal sent through it reaches that process or, if it
/// has exited, none, even when its pid has since been given to another
/// program. The pidfd is opened *before* the process's arguments are
/// checked, so the check is about the process the signal will reach. Where
/// pidfds are missing, the pid is checked and signalled as before (a
/// narrower window, not none). Written by hand: the two system calls are all
/// that is needed, and no small crate wraps them without pulling in more.
pub(crate) struct Pinned {
    pid: i32,
    #[cfg(target_os = "linux")]
    fd: Option<std::os::fd::OwnedFd>,
}

impl Pinned {
    /// `pid` pinned, if it is alive and is `who`.
    pub(crate) fn ours(pid: i32, who: &Identity) -> Option<Self> {
        #[cfg(target_os = "linux")]
        let fd = pidfd_open(pid);
        if !is_ours(pid, who) {
            return None;
        }
        Some(Self {
            pid,
            #[cfg(target_os = "linux")]
            fd,
        })
    }

    /// Whether the process is held by a pidfd.
    #[cfg(test)]
    pub(crate) fn by_pidfd(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.fd.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }

    pub(crate) fn signal(&self, sig: libc::c_int) -> Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(fd) = &self.fd {
            use std::os::fd::AsRawFd;
            // SAFETY: pidfd_send_signal(2) with a pidfd we own, a valid
            // signal, no siginfo and no flags.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    sig,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            };
            if rc == 0 {
                return Ok(());
            }
            let err = std::io::Error::last_os_error();
            return if err.raw_os_error() == Some(libc::ESRCH) {
                Ok(()) // It has exited: nothing else can be reached.
            } else {
                Err(io(format!("could not signal process {}: {err}", self.pid)))
            };
        }
        signal(self.pid, sig)
    }
}

#[cfg(target_os = "linux")]
fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new file
    // descriptor we then own, or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by no one else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Asks a process to stop with `first` (its graceful signal), waits up to
/// `grace`, then kills it. Returns true if it had to be killed.
pub(crate) fn stop(pid: i32, who: &Identity, first: libc::c_int, grace: Duration) -> Result<bool> {
    let Some(process) = Pinned::ours(pid, who) else {
        return Ok(false);
    };
    process.signal(first)?;
    if wait_gone(pid, who, grace) {
        return Ok(false);
    }
    process.signal(libc::SIGKILL)?;
    wait_gone(pid, who, Duration::from_secs(5));
    Ok(true)
}

fn wait_gone(pid: i32, who: &Identity, within: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !is_ours(pid, who) {
            return true;
        }
        if start.elapsed() >= within {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The only variables a process this target starts receives: what a
/// program needs to find its tools and speak the locale. Nothing else of the
/// app's environment (a developer's tokens, the keyring's session bus, the
/// app's own settings) reaches nginx or a leg.
const PASSED_ON: [&str; 4] = ["PATH", "LANG", "LC_ALL", "TZ"];

/// Clears `command`'s environment down to [`PASSED_ON`].
pub(crate) fn minimal_environment(command: &mut tokio::process::Command) {
    command.env_clear();
    for name in PASSED_ON {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    if std::env::var_os("PATH").is_none() {
        command.env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
    }
}

/// Starts `program` in a session of its own with stdin from /dev/null and
/// stdout and stderr appended to `log`, and returns its pid without waiting.
pub(crate) fn spawn_detached(program: &Path, args: &[&str], cwd: &Path, log: &Path) -> Result<i32> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| io_at("open the log", log, e))?;
    let err = out.try_clone().map_err(|e| io_at("open the log", log, e))?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .kill_on_drop(false);
    minimal_environment(&mut command);
    // SAFETY: setsid is async-signal-safe and the closure allocates nothing,
    // as code between fork and exec must. A session of its own keeps the
    // process out of the app's process group and terminal, so neither a
    // Ctrl-C nor the app dying reaches it.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    // Dropping the child handle leaves the process running; tokio reaps it
    // in the background if it exits while the app is still up.
    let child = command.spawn().map_err(|e| io_at("start", program, e))?;
    let pid = child
        .id()
        .ok_or_else(|| io(format!("{} exited as it started", program.display())))?;
    i32::try_from(pid).map_err(|_| io(format!("pid {pid} is out of range")))
}

/// The last lines of a log, to quote in an error.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_files_with_junk_mean_no_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read_pid(&path), None);
        for junk in ["", "abc", "-5", "1", "12 13"] {
            std::fs::write(&path, junk).unwrap();
            assert_eq!(read_pid(&path), None, "{junk:?}");
        }
        std::fs::write(&path, "4242\n").unwrap();
        assert_eq!(read_pid(&path), Some(4242));
    }

    #[test]
    fn identities_match_arguments_exactly() {
        let argv = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let leg = Identity::Leg {
            program: "release-desk-sample-service".into(),
            app: "/d/blue/app".into(),
        };
        assert!(leg.matches(&argv(&[
            "/x/release-desk-sample-service",
            "--root",
            "/d/blue/app",
            "--port",
            "1"
        ])));
        assert!(!leg.matches(&argv(&[
            "/x/release-desk-sample-service",
            "--root",
            "/d/blue/app2"
        ])));
        assert!(!leg.matches(&argv(&[
            "sh",
            "-c",
            "sleep 9 # release-desk-sample-service --root /d/blue/app"
        ])));
        assert!(!leg.matches(&argv(&[
            "vim",
            "release-desk-sample-service",
            "--root",
            "/d/blue/app"
        ])));
        let nginx = Identity::Nginx {
            prefix: "/d/nginx".into(),
        };
        assert!(nginx.matches(&argv(&[
            "/usr/sbin/nginx",
            "-p",
            "/d/nginx",
            "-c",
            "/d/nginx/nginx.conf"
        ])));
        assert!(nginx.matches(&argv(&[
            "nginx: master process /usr/sbin/nginx -p /d/nginx -c /d/nginx/nginx.conf -e x"
        ])));
        assert!(!nginx.matches(&argv(&[
            "nginx: master process /usr/sbin/nginx -p /d/nginx2 -c /d/nginx2/nginx.conf"
        ])));
        assert!(!nginx.matches(&argv(&["grep", "nginx", "-p", "/d/nginx", "-c", "x"])));
        assert!(!is_ours(i32::MAX, &leg));
    }

    /// A shell that stays a shell (two commands, so it does not exec the
    /// last) and carries `--root <app>` as two arguments, like a leg.
    fn leg_like(app: &str) -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", "sleep 30; true", "--root", app])
            .spawn()
            .unwrap()
    }

    fn wait_until_ours(pid: i32, who: &Identity) {
        for _ in 0..200 {
            if is_ours(pid, who) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("process {pid} never showed its arguments");
    }

    #[test]
    fn our_process_is_pinned_by_a_pidfd_and_signalled_through_it() {
        let mut child = leg_like("/tmp/pinned-app");
        let pid = child.id() as i32;
        let who = Identity::Leg {
            program: "sh".into(),
            app: "/tmp/pinned-app".into(),
        };
        wait_until_ours(pid, &who);
        let pinned = Pinned::ours(pid, &who).expect("it is ours");
        // Linux 5.3+ (Debian 12 has 6.1): the signal goes through the pidfd.
        #[cfg(target_os = "linux")]
        assert!(pinned.by_pidfd(), "no pidfd for a live child");
        pinned.signal(libc::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        // It has exited and been reaped: signalling through the pidfd reaches
        // nothing (whatever now has that pid), and says so quietly.
        pinned.signal(libc::SIGKILL).unwrap();
    }

    #[test]
    fn a_process_that_is_not_ours_is_not_pinned() {
        let mut child = leg_like("/tmp/someone-else");
        let pid = child.id() as i32;
        let theirs = Identity::Leg {
            program: "sh".into(),
            app: "/tmp/someone-else".into(),
        };
        wait_until_ours(pid, &theirs);
        let mine = Identity::Leg {
            program: "sh".into(),
            app: "/tmp/pinned-app".into(),
        };
        assert!(Pinned::ours(pid, &mine).is_none());
        assert!(!stop(pid, &mine, libc::SIGTERM, Duration::from_millis(100)).unwrap());
        assert!(child.try_wait().unwrap().is_none(), "it was signalled");
        let _ = child.kill();
        let _ = child.wait();
    }

    #[test]
    fn a_child_process_is_listed_under_its_parent() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let pid = child.id() as i32;
        // Until the child has exec'd it still shows the test's command line.
        let mut listed = Vec::new();
        for _ in 0..100 {
            listed = children(me);
            if listed
                .iter()
                .any(|(p, line)| *p == pid && line.contains("sleep"))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            listed
                .iter()
                .any(|(p, line)| *p == pid && line.contains("sleep")),
            "{listed:?}"
        );
    }
}
