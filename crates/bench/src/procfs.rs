//! What Linux's /proc says about the app: its process tree (WebKitGTK runs
//! the page and the network in child processes) and each process's
//! proportional set size, which shares libraries fairly between processes so
//! the sum over a tree is not inflated by what they map in common.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs;

/// The parent pid from the text of `/proc/<pid>/stat`. The second field (the
/// command name in parentheses) may itself contain spaces and parentheses, so
/// fields are counted from the last `)`: state, then ppid.
pub fn parse_ppid(stat: &str) -> Option<u32> {
    let mut fields = after_comm(stat)?;
    let _state = fields.next()?;
    fields.next()?.parse().ok()
}

/// The one-letter state from `/proc/<pid>/stat` (`R`, `S`, `Z`…).
pub fn parse_state(stat: &str) -> Option<char> {
    after_comm(stat)?.next()?.chars().next()
}

fn after_comm(stat: &str) -> Option<std::str::SplitWhitespace<'_>> {
    let close = stat.rfind(')')?;
    Some(stat[close + 1..].split_whitespace())
}

/// The `Pss:` line of `/proc/<pid>/smaps_rollup`, in bytes. Only the exact
/// `Pss:` key counts; `Pss_Anon:`, `Pss_File:` and the like are parts of it.
pub fn parse_pss_bytes(smaps_rollup: &str) -> Option<u64> {
    smaps_rollup.lines().find_map(|line| {
        let mut parts = line.strip_prefix("Pss:")?.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") => value.checked_mul(1024),
            _ => None,
        }
    })
}

/// `root` and every process descended from it, root first. Processes that
/// end while /proc is being read are simply left out.
pub fn process_tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue; // not a process folder (e.g. /proc/meminfo)
            };
            if let Some(ppid) = fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .as_deref()
                .and_then(parse_ppid)
            {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut tree = vec![root];
    let mut seen = HashSet::from([root]);
    let mut queue = VecDeque::from([root]);
    while let Some(pid) = queue.pop_front() {
        for &child in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(child) {
                tree.push(child);
                queue.push_back(child);
            }
        }
    }
    tree
}

/// Whether `pid` is still running: a zombie has finished and only waits to
/// be reaped, so it counts as gone.
pub fn is_running(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(parse_state)
        .is_some_and(|state| state != 'Z' && state != 'X')
}

/// A readable name for `pid`. The kernel keeps only 15 bytes of a name in
/// `comm` (WebKitWebProcess becomes "WebKitWebProces"), so a name that long
/// is completed from the program path in `cmdline` when that path matches.
pub fn process_name(pid: u32) -> String {
    let comm = fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim_end().to_owned())
        .unwrap_or_else(|_| format!("pid {pid}"));
    if comm.len() < 15 {
        return comm;
    }
    let program = fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|bytes| program_name(&bytes));
    match program {
        Some(full) if full.starts_with(&comm) => full,
        _ => comm,
    }
}

/// The file name of argv[0] from the NUL-separated bytes of `cmdline`.
fn program_name(cmdline: &[u8]) -> Option<String> {
    let argv0 = cmdline.split(|&b| b == 0).next()?;
    let argv0 = String::from_utf8_lossy(argv0);
    let name = argv0.rsplit('/').next()?.to_owned();
    (!name.is_empty()).then_some(name)
}

/// One process's share of memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessMemory {
    pub pid: u32,
    pub name: String,
    pub pss_bytes: u64,
}

/// The PSS of `root` and its descendants, largest first. The root must be
/// readable; a descendant that ends meanwhile is left out.
pub fn tree_memory(root: u32) -> Result<Vec<ProcessMemory>, String> {
    let mut out = Vec::new();
    for pid in process_tree(root) {
        let path = format!("/proc/{pid}/smaps_rollup");
        let pss = match fs::read_to_string(&path) {
            Ok(text) => parse_pss_bytes(&text).ok_or_else(|| format!("no Pss: line in {path}")),
            Err(e) => Err(format!("cannot read {path}: {e}")),
        };
        match pss {
            Ok(pss_bytes) => out.push(ProcessMemory {
                pid,
                name: process_name(pid),
                pss_bytes,
            }),
            Err(detail) if pid == root => return Err(detail),
            Err(_) => {}
        }
    }
    out.sort_by(|a, b| b.pss_bytes.cmp(&a.pss_bytes).then(a.pid.cmp(&b.pid)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ppid_of_a_plain_stat_line() {
        let stat = "19811 (cat) R 19805 19805 18441 0 -1 4194304 100 0 0 0";
        assert_eq!(parse_ppid(stat), Some(19805));
        assert_eq!(parse_state(stat), Some('R'));
    }

    #[test]
    fn ppid_when_the_name_has_spaces_and_parentheses() {
        let stat = "4242 (Web Content (x) ) S 4200 4242 4200 0 -1 4194560 1 0 0 0";
        assert_eq!(parse_ppid(stat), Some(4200));
        assert_eq!(parse_state(stat), Some('S'));
    }

    #[test]
    fn ppid_when_the_name_looks_like_fields() {
        let stat = "77 (a) Z 1 2) S 55 77 55 0";
        assert_eq!(parse_ppid(stat), Some(55));
    }

    #[test]
    fn ppid_of_a_truncated_or_odd_line_is_none() {
        assert_eq!(parse_ppid(""), None);
        assert_eq!(parse_ppid("12 (name"), None);
        assert_eq!(parse_ppid("12 (name) S"), None);
        assert_eq!(parse_ppid("12 (name) S x"), None);
    }

    #[test]
    fn ppid_of_this_process_is_its_parent() {
        let stat = fs::read_to_string("/proc/self/stat").expect("linux /proc");
        assert_eq!(parse_ppid(&stat), Some(std::os::unix::process::parent_id()));
    }

    const ROLLUP: &str = "\
55bdc2a63000-7fff16fdb000 ---p 00000000 00:00 0                          [rollup]
Rss:                1704 kB
Pss:                 311 kB
Pss_Dirty:           116 kB
Pss_Anon:            116 kB
Pss_File:            195 kB
Pss_Shmem:             0 kB
Shared_Clean:       1588 kB
";

    #[test]
    fn pss_is_read_from_its_own_line_in_bytes() {
        assert_eq!(parse_pss_bytes(ROLLUP), Some(311 * 1024));
    }

    #[test]
    fn pss_parts_alone_do_not_count() {
        let only_parts = "Pss_Anon:   116 kB\nPss_File:   195 kB\n";
        assert_eq!(parse_pss_bytes(only_parts), None);
        assert_eq!(parse_pss_bytes("Pss:   12 MB\n"), None);
        assert_eq!(parse_pss_bytes("Pss: lots kB\n"), None);
    }

    #[test]
    fn this_process_has_a_pss_and_is_the_root_of_its_tree() {
        let me = std::process::id();
        let memory = tree_memory(me).expect("own smaps_rollup is readable");
        assert!(memory.iter().any(|p| p.pid == me && p.pss_bytes > 0));
        assert_eq!(process_tree(me).first(), Some(&me));
        assert!(is_running(me));
    }

    #[test]
    fn a_child_process_is_found_in_the_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let tree = process_tree(std::process::id());
        let _ = child.kill();
        let _ = child.wait();
        assert!(tree.contains(&child.id()), "{tree:?}");
    }

    #[test]
    fn program_name_completes_a_truncated_comm() {
        let cmdline = b"/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/WebKitWebProcess\x0013\x0028\x00";
        assert_eq!(program_name(cmdline).as_deref(), Some("WebKitWebProcess"));
        assert_eq!(program_name(b""), None);
    }
}
