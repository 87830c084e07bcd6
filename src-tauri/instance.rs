//! One Release Desk per data folder. Two would both resume the same
//! promotion and drive the same target at once. An OS file lock (released by
//! the kernel when the process ends, even by kill -9) on
//! `<data dir>/release-desk.lock`, which also names the holder's pid so the
//! second process can say who has it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

pub const LOCK_FILE: &str = "release-desk.lock";

/// Held for the life of the process (managed state): dropping it unlocks.
pub struct InstanceLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("Release Desk is already running on the data folder {folder}{holder}. Switch to that window, or start this one on another folder with RELEASE_DESK_DATA_DIR")]
    AlreadyRunning { folder: PathBuf, holder: String },
    #[error("cannot lock the data folder {folder} ({detail}): check that it exists and is writable, or set RELEASE_DESK_DATA_DIR to another folder")]
    Unavailable { folder: PathBuf, detail: String },
}

/// Takes the data folder for this process, or says who has it.
pub fn acquire(data_dir: &Path) -> Result<InstanceLock, InstanceError> {
    let unavailable = |e: std::io::Error| InstanceError::Unavailable {
        folder: data_dir.to_path_buf(),
        detail: e.to_string(),
    };
    std::fs::create_dir_all(data_dir).map_err(unavailable)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(data_dir.join(LOCK_FILE))
        .map_err(unavailable)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            // Best effort: the holder may be writing its pid right now.
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(InstanceError::AlreadyRunning {
                folder: data_dir.to_path_buf(),
                holder: if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (process {pid})")
                },
            });
        }
        Err(TryLockError::Error(e)) => return Err(unavailable(e)),
    }
    file.set_len(0).map_err(unavailable)?;
    file.rewind().map_err(unavailable)?;
    write!(file, "{}", std::process::id()).map_err(unavailable)?;
    Ok(InstanceLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_naming_the_first_and_the_lock_frees_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path()).unwrap();
        let second = acquire(dir.path()).err().expect("the folder is taken");
        let message = second.to_string();
        assert!(message.contains("already running"), "{message}");
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(first);
        assert!(
            acquire(dir.path()).is_ok(),
            "dropping the lock frees the folder"
        );
    }
}
