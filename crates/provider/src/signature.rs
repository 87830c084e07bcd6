//! What an artefact signature covers, and how it is checked.
//!
//! A signature covers the statement "this service, this version, these
//! bytes" — [`signed_statement`] — not the tarball itself. The digest already
//! binds the bytes (every target checks sha256 before deploying), so signing
//! the statement lets a gate verify without reading a large file, and a
//! signature copied from another service or version does not verify.
//!
//! Signatures are minisign (Ed25519, with key ids and a trusted comment):
//! a small, widely used format with a dependency-free verifier
//! (`minisign-verify`, by minisign's author), and keys a person can paste as
//! one line of base64. Sigstore would need network access to Rekor/Fulcio,
//! which a local-first desktop app cannot assume.

use minisign_verify::{PublicKey, Signature};
use release_desk_domain::{Digest, Slug};

/// The exact bytes an artefact signature signs.
pub fn signed_statement(service: &Slug, version: &str, digest: &Digest) -> String {
    format!(
        "release-desk-artefact:v1:{service}:{version}:sha256:{}",
        digest.hex()
    )
}

/// Which trusted key verified a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBy {
    /// The key as given in the trusted list (minisign base64).
    pub public_key: String,
    /// The minisign key id, as hex, for showing to people.
    pub key_id: String,
}

/// Why a signature did not verify, in a sentence for the gate checklist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("the artefact has no signature: sign it in the build pipeline (minisign) and record it again")]
    Missing,
    #[error("no trusted signing keys are configured for this workspace: add the build pipeline's minisign public key in Settings")]
    NoTrustedKeys,
    #[error("the signature is not a readable minisign signature: {0}")]
    Unreadable(String),
    #[error("{0}")]
    BadKey(String),
    #[error("the signature does not verify against any trusted key (tried {tried}): it was made by another key or for other bytes; do not deploy it")]
    NotTrusted { tried: String },
}

/// Verifies `signature` (minisign text) over the artefact's statement against
/// each trusted key in turn. Keys that do not parse are skipped (they are
/// checked when they are added); an empty list is its own problem.
pub fn verify_artefact_signature(
    service: &Slug,
    version: &str,
    digest: &Digest,
    signature: Option<&str>,
    trusted_keys: &[String],
) -> Result<VerifiedBy, SignatureProblem> {
    let text = signature
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(SignatureProblem::Missing)?;
    if trusted_keys.is_empty() {
        return Err(SignatureProblem::NoTrustedKeys);
    }
    let signature =
        Signature::decode(text).map_err(|e| SignatureProblem::Unreadable(e.to_string()))?;
    let statement = signed_statement(service, version, digest);
    let mut tried = Vec::new();
    for key_text in trusted_keys {
        let Ok(key) = parse_public_key(key_text) else {
            continue;
        };
        let id = key_id(key_text).unwrap_or_default();
        if key.verify(statement.as_bytes(), &signature, false).is_ok() {
            return Ok(VerifiedBy {
                public_key: key_text.clone(),
                key_id: id,
            });
        }
        tried.push(id);
    }
    Err(SignatureProblem::NotTrusted {
        tried: if tried.is_empty() {
            "no readable key".into()
        } else {
            tried.join(", ")
        },
    })
}

/// The base64 line of a minisign public key given either bare or as the
/// two-line `.pub` file (comment line first).
pub fn key_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
}

/// Reads a minisign public key given either as the bare base64 line or as
/// the `.pub` file.
pub fn parse_public_key(text: &str) -> Result<PublicKey, SignatureProblem> {
    let line = key_line(text).ok_or_else(|| SignatureProblem::BadKey("the key is empty".into()))?;
    PublicKey::from_base64(line)
        .map_err(|e| SignatureProblem::BadKey(format!("not a minisign public key: {e}")))
}

/// The key id of a minisign public key (bytes 2..10 of the decoded key,
/// shown as minisign shows it: upper-case hex, little-endian).
pub fn key_id(text: &str) -> Option<String> {
    let bytes = base64_decode::decode(key_line(text)?)?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:016X}", u64::from_le_bytes(id)))
}

/// Standard base64 decoding of a key line. Hand-written because this is the
/// only place that needs it and minisign-verify does not expose the key id;
/// 20 lines is less than a dependency.
mod base64_decode {
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let value = |c: u8| -> Option<u32> {
            Some(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            } as u32)
        };
        let bytes = text.trim_end_matches('=').as_bytes();
        let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
        for chunk in bytes.chunks(4) {
            let mut acc = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                acc |= value(c)? << (18 - 6 * i);
            }
            let produced = chunk.len() * 6 / 8;
            for i in 0..produced {
                out.push((acc >> (16 - 8 * i)) as u8);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minisign::KeyPair;
    use std::io::Cursor;

    fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    fn digest(c: char) -> Digest {
        Digest::parse(&c.to_string().repeat(64)).unwrap()
    }

    fn sign(pair: &KeyPair, message: &str) -> String {
        minisign::sign(
            Some(&pair.pk),
            &pair.sk,
            Cursor::new(message.as_bytes()),
            Some("release-desk test"),
            None,
        )
        .unwrap()
        .to_string()
    }

    #[test]
    fn a_signature_of_the_statement_verifies_and_names_the_key() {
        let pair = KeyPair::generate_unencrypted_keypair().unwrap();
        let key = pair.pk.to_base64();
        let sig = sign(
            &pair,
            &signed_statement(&slug("web"), "1.2.0", &digest('a')),
        );
        let by = verify_artefact_signature(
            &slug("web"),
            "1.2.0",
            &digest('a'),
            Some(&sig),
            std::slice::from_ref(&key),
        )
        .unwrap();
        assert_eq!(by.public_key, key);
        let mut expected = pair.pk.keynum().to_vec();
        expected.reverse();
        assert_eq!(by.key_id, hex_upper(&expected));
    }

    fn hex_upper(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn a_signature_for_another_version_service_or_digest_does_not_verify() {
        let pair = KeyPair::generate_unencrypted_keypair().unwrap();
        let keys = [pair.pk.to_base64()];
        let sig = sign(
            &pair,
            &signed_statement(&slug("web"), "1.2.0", &digest('a')),
        );
        for (service, version, d) in [
            ("web", "1.2.1", 'a'),
            ("api", "1.2.0", 'a'),
            ("web", "1.2.0", 'b'),
        ] {
            let err =
                verify_artefact_signature(&slug(service), version, &digest(d), Some(&sig), &keys)
                    .unwrap_err();
            assert!(matches!(err, SignatureProblem::NotTrusted { .. }), "{err}");
        }
    }

    #[test]
    fn untrusted_missing_unreadable_and_keyless_are_each_named() {
        let signer = KeyPair::generate_unencrypted_keypair().unwrap();
        let other = KeyPair::generate_unencrypted_keypair().unwrap();
        let statement = signed_statement(&slug("web"), "1", &digest('c'));
        let sig = sign(&signer, &statement);
        let check = |sig: Option<&str>, keys: &[String]| {
            verify_artefact_signature(&slug("web"), "1", &digest('c'), sig, keys).unwrap_err()
        };
        let other_key = other.pk.to_base64();
        match check(Some(&sig), std::slice::from_ref(&other_key)) {
            SignatureProblem::NotTrusted { tried } => {
                assert_eq!(tried, key_id(&other_key).unwrap())
            }
            e => panic!("{e}"),
        }
        assert_eq!(
            check(None, std::slice::from_ref(&other_key)),
            SignatureProblem::Missing
        );
        assert_eq!(
            check(Some("  "), std::slice::from_ref(&other_key)),
            SignatureProblem::Missing
        );
        assert_eq!(check(Some(&sig), &[]), SignatureProblem::NoTrustedKeys);
        assert!(matches!(
            check(Some("not a signature"), &[other_key]),
            SignatureProblem::Unreadable(_)
        ));
    }

    #[test]
    fn public_keys_are_read_bare_or_as_a_pub_file() {
        let pair = KeyPair::generate_unencrypted_keypair().unwrap();
        let bare = pair.pk.to_base64();
        let file = format!("untrusted comment: minisign public key\n{bare}\n");
        assert!(parse_public_key(&bare).is_ok());
        assert!(parse_public_key(&file).is_ok());
        assert_eq!(key_id(&bare), key_id(&file));
        assert!(parse_public_key("hello").is_err());
        assert!(parse_public_key("").is_err());
    }
}
