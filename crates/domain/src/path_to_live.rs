//! The ordered stages an artefact passes through on its way to production.

use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::HashSet;

use crate::{required_text, DomainError, Result, Slug};

/// One stage of the path to live, such as `uat` or `production`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub key: Slug,
    pub name: String,
    /// Production-like stages carry more risk and stricter gates.
    pub production: bool,
}

impl Environment {
    pub fn new(key: &str, name: &str, production: bool) -> Result<Self> {
        Ok(Self {
            key: Slug::parse(key)?,
            name: required_text("environment name", name)?,
            production,
        })
    }
}

/// The workspace's stages in promotion order: dev first, production last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
pub struct PathToLive {
    stages: Vec<Environment>,
}

impl PathToLive {
    pub fn new(stages: Vec<Environment>) -> Result<Self> {
        if stages.is_empty() {
            return Err(DomainError::EmptyPathToLive);
        }
        let mut seen = HashSet::new();
        for stage in &stages {
            if !seen.insert(stage.key.clone()) {
                return Err(DomainError::DuplicateEnvironment {
                    key: stage.key.to_string(),
                });
            }
        }
        Ok(Self { stages })
    }

    pub fn stages(&self) -> &[Environment] {
        &self.stages
    }

    /// The stage an artefact must pass before `key`, if any.
    pub fn previous(&self, key: &Slug) -> Option<&Environment> {
        let index = self.stages.iter().position(|s| &s.key == key)?;
        index.checked_sub(1).map(|i| &self.stages[i])
    }

    /// A new order for the same stages. Refuses anything but a permutation, so
    /// reordering can never drop or invent an environment.
    pub fn reordered(&self, keys: &[Slug]) -> Result<Self> {
        let current: HashSet<&Slug> = self.stages.iter().map(|s| &s.key).collect();
        let offered: HashSet<&Slug> = keys.iter().collect();
        if keys.len() != self.stages.len() || current != offered {
            return Err(DomainError::DuplicateEnvironment {
                key: keys
                    .iter()
                    .find(|k| !current.contains(k))
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "(a stage is missing or repeated)".into()),
            });
        }
        let stages: Vec<Environment> = keys
            .iter()
            .filter_map(|k| self.stages.iter().find(|s| &s.key == k).cloned())
            .collect();
        // The previous-stage gate trusts this order: a production stage put
        // before a test stage would let an untested build go live.
        if let Some(first_prod) = stages.iter().position(|s| s.production) {
            if let Some(later) = stages[first_prod..].iter().find(|s| !s.production) {
                return Err(DomainError::ProductionNotLast {
                    production: stages[first_prod].key.to_string(),
                    later: later.key.to_string(),
                });
            }
        }
        Self::new(stages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> PathToLive {
        PathToLive::new(vec![
            Environment::new("dev", "Development", false).unwrap(),
            Environment::new("test", "Test", false).unwrap(),
            Environment::new("production", "Production", true).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn previous_follows_the_order() {
        let p = path();
        assert_eq!(p.previous(&Slug::parse("dev").unwrap()), None);
        assert_eq!(
            p.previous(&Slug::parse("production").unwrap())
                .unwrap()
                .key
                .as_str(),
            "test"
        );
        assert_eq!(p.previous(&Slug::parse("nowhere").unwrap()), None);
    }

    #[test]
    fn refuses_empty_and_duplicate_paths() {
        assert_eq!(PathToLive::new(vec![]), Err(DomainError::EmptyPathToLive));
        let dev = Environment::new("dev", "Dev", false).unwrap();
        assert!(matches!(
            PathToLive::new(vec![dev.clone(), dev]),
            Err(DomainError::DuplicateEnvironment { .. })
        ));
    }

    #[test]
    fn production_stages_stay_after_the_stages_that_test_for_them() {
        let keys =
            |ks: &[&str]| -> Vec<Slug> { ks.iter().map(|k| Slug::parse(k).unwrap()).collect() };
        for order in [["production", "dev", "test"], ["dev", "production", "test"]] {
            assert!(matches!(
                path().reordered(&keys(&order)),
                Err(DomainError::ProductionNotLast { .. })
            ));
        }
        assert!(path()
            .reordered(&keys(&["test", "dev", "production"]))
            .is_ok());
    }

    #[test]
    fn reordering_is_only_a_permutation() {
        let p = path();
        let keys: Vec<Slug> = ["test", "dev", "production"]
            .iter()
            .map(|k| Slug::parse(k).unwrap())
            .collect();
        let r = p.reordered(&keys).unwrap();
        assert_eq!(r.stages()[0].key.as_str(), "test");
        assert!(p.reordered(&keys[..2]).is_err());
        let mut bad = keys.clone();
        bad[0] = Slug::parse("qa").unwrap();
        assert!(p.reordered(&bad).is_err());
    }

    #[test]
    fn environment_names_are_required() {
        assert!(Environment::new("dev", "  ", false).is_err());
    }
}
