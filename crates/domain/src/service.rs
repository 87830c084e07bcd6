//! A service: one deployable unit with its own artefacts and pipeline.

use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{optional_text, required_text, Result, Slug};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub key: Slug,
    pub name: String,
    pub team: Option<String>,
    pub repository: Option<String>,
}

impl Service {
    pub fn new(
        key: &str,
        name: &str,
        team: Option<&str>,
        repository: Option<&str>,
    ) -> Result<Self> {
        Ok(Self {
            key: Slug::parse(key)?,
            name: required_text("service name", name)?,
            team: optional_text("team", team)?,
            repository: optional_text("repository", repository)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_validates() {
        let s = Service::new(
            "payments-api",
            " Payments API ",
            Some(""),
            Some("org/payments"),
        )
        .unwrap();
        assert_eq!(s.name, "Payments API");
        assert_eq!(s.team, None);
        assert!(Service::new("Payments", "x", None, None).is_err());
        assert!(Service::new("payments", &"x".repeat(3000), None, None).is_err());
    }
}
