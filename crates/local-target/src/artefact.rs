//! Checking an artefact before anything on a leg changes: its bytes must hash
//! to the recorded digest and carry a signature from a trusted key, and its
//! manifest must name the service and version it was recorded as. Only then
//! is it unpacked, into a staging directory beside the leg.

use std::path::{Path, PathBuf};

use release_desk_provider::ArtefactRef;
use sha2::{Digest as _, Sha256};

use crate::error::{io_at, refused, Result};
use crate::package::{Manifest, MANIFEST_FILE};
use crate::signing;
use crate::unpack::{self, LIMITS};

/// The file the target adds to an unpacked artefact so the running service
/// can report which bytes it serves.
pub const DIGEST_FILE: &str = ".release-desk-digest";

/// An artefact whose bytes were read, hashed and signature-checked.
pub(crate) struct Verified {
    bytes: Vec<u8>,
    pub key_id: String,
}

/// Checks, before a location is recorded, that the file there is the
/// artefact: an absolute path (this target reads tarballs from this machine)
/// to a readable file whose bytes hash to `digest`. Streams the file, so a
/// large one is not read into memory.
pub fn check_location(location: &str, digest: &release_desk_domain::Digest) -> Result<()> {
    let path = Path::new(location);
    if !path.is_absolute() {
        return Err(refused(format!(
            "'{location}' is not an absolute path: the local target reads artefacts from this machine, \
             so give the full path to the tarball, e.g. /srv/artefacts/service-1.2.0.tar.gz"
        )));
    }
    let bytes = read_artefact(path)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != digest.hex() {
        return Err(refused(format!(
            "the file at {location} has digest sha256:{actual}, not the recorded {digest}: \
             it is a different build; choose the tarball of this version"
        )));
    }
    Ok(())
}

/// Reads a tarball's bytes, refusing what is not a plain file of at most
/// [`LIMITS`]`.max_bytes`: a symbolic link (the recorded path is what was
/// checked), a FIFO (opening one for reading waits for a writer forever), a
/// device such as /dev/zero (endless), or a file that grows while it is read.
fn read_artefact(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let not_plain = |what: &str| {
        refused(format!(
            "{} is {what}, not a regular file: record the path of the tarball itself",
            path.display()
        ))
    };
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| io_at("read the artefact at", path, e))?;
    if meta.file_type().is_symlink() {
        return Err(not_plain("a symbolic link"));
    }
    if meta.is_dir() {
        return Err(not_plain("a folder"));
    }
    if !meta.is_file() {
        return Err(not_plain("a special file"));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Should the path be swapped between the check above and the open, a
    // FIFO still does not block the open and a link is not followed.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut options,
        libc::O_NONBLOCK | libc::O_NOFOLLOW,
    );
    let file = options
        .open(path)
        .map_err(|e| io_at("open the artefact at", path, e))?;
    let meta = file
        .metadata()
        .map_err(|e| io_at("read the artefact at", path, e))?;
    if !meta.is_file() {
        return Err(not_plain("a special file"));
    }
    let too_big = |size: u64| {
        refused(format!(
            "the artefact at {} is {size} bytes, more than the {} MiB this target accepts",
            path.display(),
            LIMITS.max_bytes / (1024 * 1024)
        ))
    };
    if meta.len() > LIMITS.max_bytes {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(LIMITS.max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_at("read the artefact at", path, e))?;
    if bytes.len() as u64 > LIMITS.max_bytes {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Reads the artefact's bytes and checks digest and signature.
pub(crate) fn verify(artefact: &ArtefactRef, trusted_keys: &[String]) -> Result<Verified> {
    let path = Path::new(&artefact.location);
    let bytes = read_artefact(path)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != artefact.digest.hex() {
        return Err(refused(format!(
            "{} {} at {} has digest sha256:{actual}, not the recorded {}: the artefact's bytes \
             changed since it was recorded: do not deploy it; rebuild and record a new version",
            artefact.service,
            artefact.version,
            path.display(),
            artefact.digest
        )));
    }
    let key_id = signing::verify(
        &artefact.service,
        &artefact.version,
        &artefact.digest,
        artefact.signature.as_deref(),
        trusted_keys,
    )?;
    Ok(Verified { bytes, key_id })
}

/// A verified artefact unpacked into a staging directory; removed on drop
/// unless it was moved into place.
pub(crate) struct Staged {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub files: usize,
    pub bytes: u64,
}

impl Drop for Staged {
    fn drop(&mut self) {
        // After a successful install the directory was renamed away and this
        // finds nothing; otherwise it clears a half-used staging area.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unpacks into `staging` and checks the manifest against the reference.
pub(crate) fn stage(
    verified: &Verified,
    artefact: &ArtefactRef,
    staging: PathBuf,
) -> Result<Staged> {
    if let Some(parent) = staging.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_at("create", parent, e))?;
    }
    let mut staged = Staged {
        dir: staging,
        manifest: Manifest::new(
            &artefact.service,
            &artefact.version,
            crate::Behaviour::Healthy,
        ),
        files: 0,
        bytes: 0,
    };
    let done = unpack::unpack(&verified.bytes, &staged.dir, LIMITS)?;
    let manifest_path = staged.dir.join(MANIFEST_FILE);
    let manifest_bytes = std::fs::read(&manifest_path).map_err(|_| {
        refused(format!(
            "the artefact has no {MANIFEST_FILE}: it is not a Release Desk sample service artefact"
        ))
    })?;
    let manifest = Manifest::parse(&manifest_bytes).map_err(|e| refused(e.message))?;
    if manifest.service != artefact.service.as_str() || manifest.version != artefact.version {
        return Err(refused(format!(
            "the artefact says it is {} {} but was recorded as {} {}: do not deploy it",
            manifest.service, manifest.version, artefact.service, artefact.version
        )));
    }
    if !staged.dir.join("public/index.html").is_file() {
        return Err(refused("the artefact has no public/index.html to serve"));
    }
    let digest_path = staged.dir.join(DIGEST_FILE);
    std::fs::write(&digest_path, artefact.digest.to_string())
        .map_err(|e| io_at("write", &digest_path, e))?;
    staged.manifest = manifest;
    staged.files = done.files;
    staged.bytes = done.bytes;
    Ok(staged)
}
