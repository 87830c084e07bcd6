//! Building signed artefacts for the sample service: a deterministic
//! `.tar.gz` holding `release.json` and `public/index.html`, its sha256 and a
//! minisign signature. The demo and the tests package the sample versions
//! with it; the target only ever reads what this writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use release_desk_domain::{Digest, Slug};
use release_desk_provider::ArtefactRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{io, io_at, malformed, refused, Result};
use crate::signing::SigningKey;
use crate::state::write_atomically;

/// The manifest's file name inside an artefact.
pub const MANIFEST_FILE: &str = "release.json";

/// How a sample service version behaves once running, so the demo can show a
/// good release, one caught by the smoke test and one caught by the soak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// `/healthz` answers 500 from the start.
    FailsSmoke,
    /// Healthy until it has taken live traffic (requests through the proxy)
    /// for `fail_after_secs`, then answers 500 to everything and exits a couple
    /// of seconds later: a service crashing during its soak.
    FailsSoak {
        fail_after_secs: u64,
    },
}

/// `release.json`: what an artefact is and how the sample service behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub service: String,
    pub version: String,
    pub behaviour: BehaviourName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_after_secs: Option<u64>,
}

/// The `behaviour` field as it is spelled in `release.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BehaviourName {
    Healthy,
    FailsSmoke,
    FailsSoak,
}

/// How long a `fails_soak` version lasts when its manifest does not say.
const DEFAULT_FAIL_AFTER_SECS: u64 = 3;

impl Manifest {
    pub fn new(service: &Slug, version: &str, behaviour: Behaviour) -> Self {
        let (behaviour, fail_after_secs) = match behaviour {
            Behaviour::Healthy => (BehaviourName::Healthy, None),
            Behaviour::FailsSmoke => (BehaviourName::FailsSmoke, None),
            Behaviour::FailsSoak { fail_after_secs } => {
                (BehaviourName::FailsSoak, Some(fail_after_secs))
            }
        };
        Self {
            service: service.to_string(),
            version: version.to_owned(),
            behaviour,
            fail_after_secs,
        }
    }

    pub fn behaviour(&self) -> Behaviour {
        match self.behaviour {
            BehaviourName::Healthy => Behaviour::Healthy,
            BehaviourName::FailsSmoke => Behaviour::FailsSmoke,
            BehaviourName::FailsSoak => Behaviour::FailsSoak {
                fail_after_secs: self.fail_after_secs.unwrap_or(DEFAULT_FAIL_AFTER_SECS),
            },
        }
    }

    /// Reads and checks a manifest's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let manifest: Self = serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("{MANIFEST_FILE} cannot be read: {e}")))?;
        check_version(&manifest.version)?;
        Ok(manifest)
    }
}

/// Versions become file names, HTTP headers and HTML, so they are kept to
/// characters that are safe in all three.
pub fn check_version(version: &str) -> Result<()> {
    let ok = (1..=64).contains(&version.len())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    if ok {
        Ok(())
    } else {
        Err(refused(format!(
            "'{}' is not a usable version: use 1 to 64 letters, digits, '.', '-', '+' or '_'",
            version.chars().take(80).collect::<String>()
        )))
    }
}

/// A packaged, signed artefact on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackagedArtefact {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub digest: Digest,
    /// The minisign signature's text.
    pub signature: String,
    /// The signer's public key, minisign base64.
    pub public_key: String,
}

impl PackagedArtefact {
    /// The reference an action deploys this artefact by, checked against
    /// `trusted_keys` (this package's own signer is not trusted for it).
    pub fn artefact_ref(&self, trusted_keys: Vec<String>) -> Result<ArtefactRef> {
        let service = Slug::parse(&self.manifest.service)
            .map_err(|e| malformed(format!("the manifest's service is not a key: {e}")))?;
        Ok(ArtefactRef {
            service,
            version: self.manifest.version.clone(),
            digest: self.digest.clone(),
            location: self.path.display().to_string(),
            signature: Some(self.signature.clone()),
            trusted_keys,
        })
    }
}

/// Packs `service` `version` into `<out_dir>/<service>-<version>.tar.gz` and
/// signs it. The same inputs always give the same bytes, hence the same
/// digest: entries are sorted and carry fixed times, owners and modes.
pub fn package(
    out_dir: &Path,
    service: &Slug,
    version: &str,
    behaviour: Behaviour,
    key: &SigningKey,
) -> Result<PackagedArtefact> {
    check_version(version)?;
    let manifest = Manifest::new(service, version, behaviour);
    let bytes = tarball(&manifest)?;
    let digest = Digest::parse(&hex::encode(Sha256::digest(&bytes)))
        // A sha256 is always 64 hex digits, so this cannot fail.
        .map_err(|e| io(format!("sha256 produced an unreadable digest: {e}")))?;
    let file_name = format!("{service}-{version}.tar.gz");
    let signature = key.sign_artefact(service, version, &digest)?;
    std::fs::create_dir_all(out_dir).map_err(|e| io_at("create", out_dir, e))?;
    let path = out_dir.join(&file_name);
    write_atomically(&path, &bytes)?;
    Ok(PackagedArtefact {
        path,
        manifest,
        digest,
        signature,
        public_key: key.public_key(),
    })
}

/// One version of the demo's sample service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleVersion {
    pub version: &'static str,
    pub behaviour: Behaviour,
    /// What the version is for in the demo.
    pub purpose: &'static str,
}

/// The sample service every demo and test deploys.
pub const SAMPLE_SERVICE: &str = "demo-web";

/// The demo's versions of [`SAMPLE_SERVICE`], oldest first.
pub fn sample_versions() -> Vec<SampleVersion> {
    vec![
        SampleVersion {
            version: "1.0.0",
            behaviour: Behaviour::Healthy,
            purpose: "the first good release",
        },
        SampleVersion {
            version: "1.1.0",
            behaviour: Behaviour::Healthy,
            purpose: "a good upgrade",
        },
        SampleVersion {
            version: "1.2.0",
            behaviour: Behaviour::FailsSmoke,
            purpose: "caught by the smoke test: never takes traffic",
        },
        SampleVersion {
            version: "1.3.0",
            behaviour: Behaviour::FailsSoak { fail_after_secs: 3 },
            purpose: "passes the smoke test, then fails while soaking: rolled back",
        },
    ]
}

/// A fixed time for every entry (2024-01-01T00:00:00Z): a real clock would
/// make every pack of the same version a different digest.
const ENTRY_MTIME: u64 = 1_704_067_200;

fn tarball(manifest: &Manifest) -> Result<Vec<u8>> {
    let manifest_json = serde_json::to_vec_pretty(manifest)
        .map_err(|e| io(format!("could not write {MANIFEST_FILE}: {e}")))?;
    let index = index_html(manifest);
    // Sorted by path, directories before what they hold.
    let entries: [(&str, Option<&[u8]>); 3] = [
        ("public/", None),
        ("public/index.html", Some(index.as_bytes())),
        (MANIFEST_FILE, Some(&manifest_json)),
    ];
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::best()));
    for (path, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(ENTRY_MTIME);
        header.set_uid(0);
        header.set_gid(0);
        let fail = |e: std::io::Error| io(format!("could not add {path} to the tarball: {e}"));
        match data {
            None => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .map_err(fail)?;
            }
            Some(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, path, bytes)
                    .map_err(fail)?;
            }
        }
    }
    let gz = builder
        .into_inner()
        .map_err(|e| io(format!("could not finish the tarball: {e}")))?;
    let mut bytes = gz
        .finish()
        .map_err(|e| io(format!("could not compress the tarball: {e}")))?;
    bytes.flush().map_err(|e| io(format!("{e}")))?;
    Ok(bytes)
}

fn index_html(manifest: &Manifest) -> String {
    // Service keys and versions are checked to hold no markup characters.
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{s} {v}</title></head>\n\
         <body><h1>{s}</h1><p>Version <strong id=\"version\">{v}</strong></p></body>\n</html>\n",
        s = manifest.service,
        v = manifest.version
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_version_packs_to_the_same_digest() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate().unwrap();
        let service = Slug::parse("demo-web").unwrap();
        let a = package(
            &dir.path().join("a"),
            &service,
            "1.0.0",
            Behaviour::Healthy,
            &key,
        )
        .unwrap();
        let b = package(
            &dir.path().join("b"),
            &service,
            "1.0.0",
            Behaviour::Healthy,
            &key,
        )
        .unwrap();
        let c = package(
            &dir.path().join("c"),
            &service,
            "1.1.0",
            Behaviour::Healthy,
            &key,
        )
        .unwrap();
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.digest, c.digest);
        assert_eq!(
            std::fs::read(&a.path).unwrap(),
            std::fs::read(&b.path).unwrap()
        );
    }

    #[test]
    fn the_manifest_spells_behaviour_in_snake_case_with_the_soak_delay() {
        let service = Slug::parse("demo-web").unwrap();
        let m = Manifest::new(
            &service,
            "1.3.0",
            Behaviour::FailsSoak { fail_after_secs: 3 },
        );
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["behaviour"], "fails_soak");
        assert_eq!(json["fail_after_secs"], 3);
        let back = Manifest::parse(json.to_string().as_bytes()).unwrap();
        assert_eq!(
            back.behaviour(),
            Behaviour::FailsSoak { fail_after_secs: 3 }
        );
    }

    #[test]
    fn versions_with_markup_or_paths_are_refused() {
        for bad in ["", "1.0/../x", "<b>", "1 0", &"9".repeat(65)] {
            assert!(check_version(bad).is_err(), "{bad:?}");
        }
        assert!(check_version("1.2.3-rc.1+build_7").is_ok());
    }

    #[test]
    fn the_sample_versions_cover_good_smoke_and_soak_failures() {
        let versions = sample_versions();
        assert!(versions
            .iter()
            .any(|v| v.behaviour == Behaviour::FailsSmoke));
        assert!(versions
            .iter()
            .any(|v| matches!(v.behaviour, Behaviour::FailsSoak { .. })));
        assert_eq!(versions[0].behaviour, Behaviour::Healthy);
    }
}
