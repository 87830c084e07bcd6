//! Keys for services and environments: short, stable, safe in URLs and files.

use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

use crate::{DomainError, Result};

/// A stable key such as `payments-api` or `preprod`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type)]
#[serde(try_from = "String", into = "String")]
#[specta(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(value: &str) -> Result<Self> {
        let ok = (1..=64).contains(&value.len())
            && value.starts_with(|c: char| c.is_ascii_lowercase())
            && !value.ends_with('-')
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(DomainError::InvalidSlug {
                value: value.chars().take(80).collect(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(slug: Slug) -> Self {
        slug.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_keys() {
        for key in ["dev", "payments-api", "uat2", "a"] {
            assert_eq!(Slug::parse(key).unwrap().as_str(), key);
        }
    }

    #[test]
    fn refuses_bad_keys_with_the_value() {
        for key in [
            "",
            "Dev",
            "2fa",
            "-x",
            "x-",
            "has space",
            "ünï",
            &"a".repeat(65),
        ] {
            let err = Slug::parse(key).unwrap_err();
            assert!(matches!(err, DomainError::InvalidSlug { .. }), "{key}");
        }
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Slug>("\"prod\"").is_ok());
        assert!(serde_json::from_str::<Slug>("\"PROD\"").is_err());
    }
}
