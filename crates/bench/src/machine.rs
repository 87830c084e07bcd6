//! The machine the figures were measured on, read from /proc and /etc so a
//! reader can compare them with their own.

use std::fs;
use std::process::Command;

const UNKNOWN: &str = "unknown";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    pub cpu: String,
    pub logical_cores: usize,
    pub ram: String,
    pub os: String,
    pub kernel: String,
    pub rustc: String,
    /// 1, 5 and 15 minute load averages when the harness started: other work
    /// on a small machine shows up in the tail latencies.
    pub load_average: String,
}

impl Machine {
    /// Anything that cannot be read is shown as "unknown": the report is
    /// still worth having without it.
    pub fn detect() -> Machine {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let logical_cores = match count_processors(&cpuinfo) {
            0 => std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(0),
            n => n,
        };
        Machine {
            cpu: cpu_model(&cpuinfo).unwrap_or_else(|| UNKNOWN.to_owned()),
            logical_cores,
            ram: fs::read_to_string("/proc/meminfo")
                .ok()
                .as_deref()
                .and_then(mem_total_kib)
                .map(|kib| format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)))
                .unwrap_or_else(|| UNKNOWN.to_owned()),
            os: fs::read_to_string("/etc/os-release")
                .ok()
                .as_deref()
                .and_then(pretty_name)
                .unwrap_or_else(|| UNKNOWN.to_owned()),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_else(|_| UNKNOWN.to_owned()),
            rustc: rustc_version().unwrap_or_else(|| UNKNOWN.to_owned()),
            load_average: fs::read_to_string("/proc/loadavg")
                .ok()
                .as_deref()
                .and_then(load_average)
                .unwrap_or_else(|| UNKNOWN.to_owned()),
        }
    }
}

/// The first `model name` in /proc/cpuinfo; ARM kernels may print none.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

fn count_processors(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(key, _)| key.trim() == "processor")
        })
        .count()
}

fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let mut parts = line.strip_prefix("MemTotal:")?.split_whitespace();
        parts.next()?.parse().ok()
    })
}

fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?.trim();
        Some(value.trim_matches('"').to_owned())
    })
}

/// "0.52, 0.61, 0.70" from "0.52 0.61 0.70 1/123 4567".
fn load_average(loadavg: &str) -> Option<String> {
    let fields: Vec<&str> = loadavg.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(", "))
}

fn rustc_version() -> Option<String> {
    let output = Command::new("rustc").arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUINFO: &str = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";

    #[test]
    fn cpu_model_and_cores_from_cpuinfo() {
        assert_eq!(cpu_model(CPUINFO).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(count_processors(CPUINFO), 2);
        assert_eq!(cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn ram_from_meminfo() {
        assert_eq!(
            mem_total_kib("MemTotal:       24684096 kB\nMemFree: 1 kB\n"),
            Some(24_684_096)
        );
        assert_eq!(mem_total_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn load_average_from_loadavg() {
        assert_eq!(
            load_average("3.91 2.94 1.68 3/104 29048\n").as_deref(),
            Some("3.91, 2.94, 1.68")
        );
        assert_eq!(load_average("3.91\n"), None);
    }

    #[test]
    fn pretty_name_from_os_release() {
        let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n";
        assert_eq!(
            pretty_name(text).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(pretty_name("ID=debian\n"), None);
    }
}
