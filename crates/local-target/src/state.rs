//! The small files the target keeps its own state in: written atomically
//! (temp file, fsync, rename) so a crash leaves either the old or the new
//! version, and read leniently so a damaged file is reported, never a panic.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use release_desk_domain::{Digest, Leg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{io, io_at, Result};

/// Writes `bytes` to `path` so readers see the old or the new file, never a
/// half-written one.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io(format!("{} has no parent directory", path.display())))?;
    std::fs::create_dir_all(dir).map_err(|e| io_at("create", dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.unwrap_or_default(),
        fastrand::u64(..)
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_at("write", path, e)
    })
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| io(format!("could not encode {}: {e}", path.display())))?;
    write_atomically(path, &bytes)
}

/// What reading a state file found.
#[derive(Debug)]
pub(crate) enum Stored<T> {
    Missing,
    /// The file exists but cannot be read as `T`: the reason, for people.
    Unreadable(String),
    Found(T),
}

#[cfg(test)]
impl<T> Stored<T> {
    pub(crate) fn found(self) -> Option<T> {
        match self {
            Self::Found(value) => Some(value),
            Self::Missing | Self::Unreadable(_) => None,
        }
    }
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Stored<T> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Stored::Missing,
        Err(e) => Stored::Unreadable(format!("cannot read {}: {e}", path.display())),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(value) => Stored::Found(value),
            Err(e) => Stored::Unreadable(format!("{} is damaged ({e})", path.display())),
        },
    }
}

/// The ports handed out under one root, kept so that restarts, and people's
/// bookmarks, find everything where it was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PortBook {
    /// `"<service>/<env>/<proxy|blue|green>"` → port.
    pub ports: BTreeMap<String, u16>,
}

impl PortBook {
    pub(crate) fn is_taken(&self, port: u16) -> bool {
        self.ports.values().any(|p| *p == port)
    }
}

/// What runs on a leg, written once its process answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LegRecord {
    pub version: String,
    pub digest: Digest,
    pub port: u16,
    /// What ran there before, kept unpacked in `previous/` so a failed rolling
    /// step can put it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Deployed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Deployed {
    pub version: String,
    pub digest: Digest,
}

/// Where one leg's files live: `<env>/<leg>/`.
#[derive(Debug, Clone)]
pub(crate) struct LegPaths {
    pub leg: Leg,
    pub dir: PathBuf,
}

impl LegPaths {
    pub(crate) fn new(env_dir: &Path, leg: Leg) -> Self {
        Self {
            leg,
            dir: env_dir.join(leg.as_str()),
        }
    }
    /// The unpacked artefact the service serves.
    pub(crate) fn app(&self) -> PathBuf {
        self.dir.join("app")
    }
    pub(crate) fn previous(&self) -> PathBuf {
        self.dir.join("previous")
    }
    pub(crate) fn record(&self) -> PathBuf {
        self.dir.join("leg.json")
    }
    pub(crate) fn pid_file(&self) -> PathBuf {
        self.dir.join("service.pid")
    }
    pub(crate) fn log(&self) -> PathBuf {
        self.dir.join("service.log")
    }
    pub(crate) fn staging(&self) -> PathBuf {
        self.dir
            .join(format!(".staging-{:016x}", fastrand::u64(..)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_state_file_is_reported_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leg.json");
        assert!(matches!(read_json::<LegRecord>(&path), Stored::Missing));
        std::fs::write(&path, b"{\"version\": 1").unwrap();
        match read_json::<LegRecord>(&path) {
            Stored::Unreadable(why) => assert!(why.contains("damaged"), "{why}"),
            other => panic!("expected unreadable, got {other:?}"),
        }
    }

    #[test]
    fn state_round_trips_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ports.json");
        let mut book = PortBook::default();
        book.ports.insert("demo-web/prod/proxy".into(), 18080);
        write_json(&path, &book).unwrap();
        let back: PortBook = read_json(&path).found().unwrap();
        assert_eq!(back, book);
        assert!(back.is_taken(18080) && !back.is_taken(18081));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn leg_records_read_with_or_without_a_previous_version() {
        let digest = "a".repeat(64);
        let json = format!(r#"{{"version":"1.0.0","digest":"sha256:{digest}","port":18081}}"#);
        let record: LegRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(record.port, 18081);
        assert!(record.previous.is_none());
    }
}
