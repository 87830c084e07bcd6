//! The sha256 digest that identifies an artefact's bytes, wherever it is deployed.

use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

use crate::{DomainError, Result};

/// A sha256 digest, held as 64 lowercase hex characters and shown as `sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(try_from = "String", into = "String")]
#[specta(transparent)]
pub struct Digest(String);

impl Digest {
    /// Accepts `sha256:<hex>` or bare hex, in either case.
    pub fn parse(value: &str) -> Result<Self> {
        let trimmed = value.trim();
        let hex = trimmed
            .strip_prefix("sha256:")
            .or_else(|| trimmed.strip_prefix("SHA256:"))
            .unwrap_or(trimmed);
        if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(Self(hex.to_ascii_lowercase()))
        } else {
            Err(DomainError::InvalidDigest {
                value: trimmed.chars().take(80).collect(),
            })
        }
    }

    /// The 64 hex characters without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Digest {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> Self {
        format!("sha256:{}", d.0)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn parses_prefixed_and_bare_forms_to_the_same_digest() {
        let a = Digest::parse(HEX).unwrap();
        let b = Digest::parse(&format!("sha256:{}", HEX.to_uppercase())).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), format!("sha256:{HEX}"));
    }

    #[test]
    fn refuses_wrong_length_or_alphabet() {
        assert!(Digest::parse(&HEX[1..]).is_err());
        assert!(Digest::parse(&HEX.replace('9', "g")).is_err());
        assert!(Digest::parse("md5:abc").is_err());
    }

    #[test]
    fn round_trips_through_json_with_prefix() {
        let d = Digest::parse(HEX).unwrap();
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"sha256:{HEX}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
    }
}
