//! Unpacking an artefact's tarball without trusting it: only plain files and
//! directories, only relative paths that stay inside the destination, and a
//! cap on entries and bytes so a tar bomb cannot fill the disk.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use flate2::read::GzDecoder;

use crate::error::{io_at, refused, Result};

/// How much one artefact may unpack to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_bytes: u64,
    pub max_entries: usize,
}

pub(crate) const LIMITS: Limits = Limits {
    max_bytes: 64 * 1024 * 1024,
    max_entries: 10_000,
};

/// What was unpacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unpacked {
    pub files: usize,
    pub bytes: u64,
}

/// The path an entry may be written to under the destination, or why not.
pub(crate) fn safe_relative_path(raw: &[u8]) -> std::result::Result<PathBuf, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "a path that is not UTF-8".to_owned())?;
    if text.contains('\0') {
        return Err(format!("the path {text:?} holds a NUL byte"));
    }
    let mut clean = PathBuf::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("the absolute path {text:?}"))
            }
            Component::ParentDir => {
                return Err(format!("the path {text:?}, which climbs out with .."))
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(format!("the empty path {text:?}"));
    }
    Ok(clean)
}

/// Unpacks a gzipped tarball into `dest`, which must not exist yet. On any
/// refusal `dest` may hold part of the archive: the caller unpacks into a
/// staging directory and removes it.
pub(crate) fn unpack(tar_gz: &[u8], dest: &Path, limits: Limits) -> Result<Unpacked> {
    std::fs::create_dir(dest).map_err(|e| io_at("create", dest, e))?;
    // Headers and padding count too, so a stream of empty entries is capped by
    // the same budget as file bodies (plus room for the headers themselves).
    let budget = limits.max_bytes + (limits.max_entries as u64 + 2) * 1024;
    let mut archive = tar::Archive::new(GzDecoder::new(tar_gz).take(budget));
    let entries = archive
        .entries()
        .map_err(|e| refused(format!("the artefact is not a readable tarball: {e}")))?;
    let mut done = Unpacked { files: 0, bytes: 0 };
    for (index, entry) in entries.enumerate() {
        if index >= limits.max_entries {
            return Err(refused(format!(
                "the artefact has more than {} entries: refusing to unpack it",
                limits.max_entries
            )));
        }
        let mut entry =
            entry.map_err(|e| refused(format!("the artefact's tarball is damaged: {e}")))?;
        let path = safe_relative_path(&entry.path_bytes())
            .map_err(|why| refused(format!("the artefact holds {why}: refusing to unpack it")))?;
        let target = dest.join(&path);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&target).map_err(|e| io_at("create", &target, e))?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                if done.bytes.saturating_add(size) > limits.max_bytes {
                    return Err(too_big(limits));
                }
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| io_at("create", parent, e))?;
                }
                let mut file =
                    std::fs::File::create(&target).map_err(|e| io_at("create", &target, e))?;
                // The header's size is what the reader yields, but a cap on
                // the copy keeps that a checked fact, not an assumption.
                let copied = std::io::copy(&mut (&mut entry).take(size), &mut file)
                    .map_err(|e| refused(format!("the artefact's tarball is damaged: {e}")))?;
                done.bytes += copied;
                done.files += 1;
            }
            other => {
                return Err(refused(format!(
                    "the artefact holds {} as a {}: only plain files and directories are allowed",
                    path.display(),
                    describe(other)
                )))
            }
        }
    }
    Ok(done)
}

fn too_big(limits: Limits) -> crate::error::ProviderError {
    refused(format!(
        "the artefact unpacks to more than {} MiB: refusing to unpack it",
        limits.max_bytes / (1024 * 1024)
    ))
}

fn describe(kind: tar::EntryType) -> &'static str {
    match kind {
        tar::EntryType::Symlink => "symbolic link",
        tar::EntryType::Link => "hard link",
        tar::EntryType::Char | tar::EntryType::Block => "device",
        tar::EntryType::Fifo => "pipe",
        _ => "special entry",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;

    /// A tarball whose single entry has exactly `name` and `kind`, written
    /// byte by byte because the tar crate rightly refuses to build bad ones.
    fn raw_tarball(name: &str, kind: tar::EntryType, body: &[u8]) -> Vec<u8> {
        let mut header = tar::Header::new_old();
        {
            let old = header.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
        }
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(body.len() as u64);
        if kind == tar::EntryType::Symlink {
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        let mut builder =
            tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        builder.append(&header, body).unwrap();
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn safe_paths_stay_relative_and_inside() {
        assert_eq!(
            safe_relative_path(b"public/index.html").unwrap(),
            PathBuf::from("public/index.html")
        );
        assert_eq!(
            safe_relative_path(b"./release.json").unwrap(),
            PathBuf::from("release.json")
        );
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"public/../../x",
            b"",
            b".",
            b"a\0b",
        ] {
            assert!(
                safe_relative_path(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn absolute_climbing_and_linked_entries_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("/tmp/evil", tar::EntryType::Regular, "absolute"),
            ("../evil", tar::EntryType::Regular, "climbs out"),
            ("link", tar::EntryType::Symlink, "symbolic link"),
            ("hard", tar::EntryType::Link, "hard link"),
        ];
        for (i, (name, kind, why)) in cases.into_iter().enumerate() {
            let dest = dir.path().join(format!("d{i}"));
            let err = unpack(&raw_tarball(name, kind, b"x"), &dest, LIMITS).unwrap_err();
            assert!(err.message.contains(why), "{name}: {}", err.message);
        }
        assert!(!dir.path().join("evil").exists());
    }

    #[test]
    fn a_tar_bomb_is_refused_by_size_and_by_entry_count() {
        let dir = tempfile::tempdir().unwrap();
        let big = raw_tarball("big", tar::EntryType::Regular, &vec![0u8; 4096]);
        let small = Limits {
            max_bytes: 1024,
            max_entries: 10,
        };
        let err = unpack(&big, &dir.path().join("a"), small).unwrap_err();
        assert!(err.message.contains("more than"), "{}", err.message);

        let mut builder =
            tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for i in 0..20 {
            let mut header = tar::Header::new_ustar();
            header.set_size(0);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, format!("f{i}"), std::io::empty())
                .unwrap();
        }
        let many = builder.into_inner().unwrap().finish().unwrap();
        let err = unpack(&many, &dir.path().join("b"), small).unwrap_err();
        assert!(err.message.contains("entries"), "{}", err.message);
    }

    #[test]
    fn plain_files_and_directories_unpack() {
        let dir = tempfile::tempdir().unwrap();
        let tarball = raw_tarball("public/index.html", tar::EntryType::Regular, b"<p>hi</p>");
        let done = unpack(&tarball, &dir.path().join("ok"), LIMITS).unwrap();
        assert_eq!(done, Unpacked { files: 1, bytes: 9 });
        let body = std::fs::read(dir.path().join("ok/public/index.html")).unwrap();
        assert_eq!(body, b"<p>hi</p>");
    }
}
