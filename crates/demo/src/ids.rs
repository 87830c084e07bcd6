//! Stable, realistic-looking digests and commit ids derived from names.

use sha2::{Digest as _, Sha256};

/// The sha256 of `seed`: a stand-in for hashing an artefact's bytes.
pub(crate) fn digest_of(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

/// A 40-character commit id derived from `seed`.
pub(crate) fn commit_of(seed: &str) -> String {
    digest_of(&format!("commit:{seed}"))[..40].to_owned()
}
