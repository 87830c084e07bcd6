//! A **binding** says where a service's environment lives at a provider: a
//! service × environment, a connection, and that provider's settings for it
//! (a repository and GitHub environment, a workflow, a pipeline, a
//! namespace and Deployment, a slot).

use std::collections::BTreeMap;

use release_desk_domain::{PathToLive, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{check_settings, invalid, may_reach, Connection, ConnectionId, ConnectionKind, Result};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(transparent)]
pub struct BindingId(#[specta(type = u32)] pub i64);

/// What a person fills in to bind a service's environment to a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BindingDraft {
    pub service: Slug,
    pub environment: Slug,
    pub connection: ConnectionId,
    pub settings: BTreeMap<String, String>,
}

/// A stored binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    pub id: BindingId,
    pub service: Slug,
    pub environment: Slug,
    pub connection: ConnectionId,
    pub settings: BTreeMap<String, String>,
}

impl BindingDraft {
    /// Checks the draft against its connection and the path to live, and
    /// returns the settings to store, with the kind's defaults filled in.
    /// A connection is never bound above its reach.
    pub fn validate(
        &self,
        connection: &Connection,
        path: &PathToLive,
    ) -> Result<BTreeMap<String, String>> {
        if connection.id != self.connection {
            return Err(invalid("connection", "the draft names another connection"));
        }
        if !path.stages().iter().any(|s| s.key == self.environment) {
            return Err(invalid(
                "environment",
                format!("'{}' is not a stage of the path to live", self.environment),
            ));
        }
        may_reach(connection, &self.environment, path)?;
        let mut settings: BTreeMap<String, String> = self
            .settings
            .iter()
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        check_settings(&settings)?;
        match connection.kind {
            ConnectionKind::Github => {
                let repo = settings.get("repository").ok_or_else(|| {
                    invalid("repository", "name the GitHub repository as owner/name")
                })?;
                if github_repository(repo).is_none() {
                    return Err(invalid(
                        "repository",
                        format!("'{repo}' is not a GitHub repository: write it as owner/name"),
                    ));
                }
                for key in ["environment", "workflow", "ref"] {
                    if settings.get(key).is_some_and(|v| v == "." || v == "..") {
                        return Err(invalid("settings", format!("'..' is not a valid {key}")));
                    }
                }
                // GitHub environments are usually named like the stage.
                let named = settings
                    .entry("environment".into())
                    .or_insert_with(|| self.environment.to_string())
                    .clone();
                // The reach holds for what is really read or approved: a
                // lower connection's binding may not name a higher stage's
                // GitHub environment.
                if let Some(reach) = &connection.reach {
                    let stages = path.stages();
                    let limit = stages
                        .iter()
                        .position(|s| &s.key == reach)
                        .unwrap_or(usize::MAX);
                    if let Some(higher) = stages.iter().skip(limit.saturating_add(1)).find(|s| {
                        s.key.as_str().eq_ignore_ascii_case(&named)
                            || s.name.eq_ignore_ascii_case(&named)
                    }) {
                        return Err(crate::ConnectionError::OutOfReach(format!(
                            "connection '{}' is limited to stages up to {reach}, so it may not read or approve the GitHub environment '{named}' of {}",
                            connection.name, higher.key
                        )));
                    }
                }
            }
            ConnectionKind::AzureDevops
            | ConnectionKind::Servicenow
            | ConnectionKind::Kubernetes
            | ConnectionKind::AppService
            | ConnectionKind::AwsSsm => {
                // A `workflow` makes the cell deploy through the connection's
                // pipeline; refused here, not mid-promotion, where the kind
                // has none.
                if settings.contains_key("workflow") {
                    return Err(invalid(
                        "workflow",
                        format!(
                            "{} runs no GitHub workflow: remove the workflow setting",
                            connection.kind.label()
                        ),
                    ));
                }
            }
        }
        Ok(settings)
    }
}

/// GitHub's rules for `owner/name`, split into its two names: letters,
/// digits, `-`, `_`, `.`; never `.` or `..` (they would change the API path).
/// The binding is checked with it when made, the adapter at every request.
pub fn github_repository(value: &str) -> Option<(&str, &str)> {
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    value.split_once('/').filter(|(o, n)| ok(o) && ok(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{connection as github, path};

    fn draft(env: &str, settings: &[(&str, &str)]) -> BindingDraft {
        BindingDraft {
            service: Slug::parse("payments").unwrap(),
            environment: Slug::parse(env).unwrap(),
            connection: ConnectionId(7),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn a_github_binding_needs_a_repository_and_defaults_its_environment_to_the_stage() {
        let s = draft(
            "test",
            &[("repository", "acme/payments"), ("workflow", "deploy.yml")],
        )
        .validate(&github(None), &path())
        .unwrap();
        assert_eq!(s["environment"], "test");
        assert!(draft("test", &[]).validate(&github(None), &path()).is_err());
        for bad in ["acme", "acme/../x", "acme/pay ments", "../acme"] {
            assert!(
                draft("test", &[("repository", bad)])
                    .validate(&github(None), &path())
                    .is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_workflow_is_refused_when_bound_to_a_kind_that_runs_none() {
        let mut k8s = github(None);
        k8s.kind = ConnectionKind::Kubernetes;
        let err = draft("test", &[("workflow", "deploy.yml")])
            .validate(&k8s, &path())
            .unwrap_err();
        assert!(err.to_string().contains("workflow"), "{err}");
        assert!(draft("test", &[("namespace", "shop")])
            .validate(&k8s, &path())
            .is_ok());
    }

    #[test]
    fn a_connection_is_never_bound_above_its_reach_nor_to_an_unknown_stage() {
        let low = github(Some("test"));
        let ok = draft("dev", &[("repository", "acme/payments")]).validate(&low, &path());
        assert!(ok.is_ok());
        let err = draft("production", &[("repository", "acme/payments")])
            .validate(&low, &path())
            .unwrap_err();
        assert_eq!(err.code(), "connection_out_of_reach");
        assert!(draft("moon", &[("repository", "acme/payments")])
            .validate(&github(None), &path())
            .is_err());
    }

    #[test]
    fn a_lower_connection_cannot_name_a_higher_stages_environment() {
        let low = github(Some("test"));
        let err = draft(
            "dev",
            &[
                ("repository", "acme/payments"),
                ("environment", "Production"),
            ],
        )
        .validate(&low, &path())
        .unwrap_err();
        assert_eq!(err.code(), "connection_out_of_reach");
        assert!(draft(
            "dev",
            &[("repository", "acme/payments"), ("environment", "qa")]
        )
        .validate(&low, &path())
        .is_ok());
        assert!(draft(
            "dev",
            &[("repository", "acme/payments"), ("workflow", "..")]
        )
        .validate(&github(None), &path())
        .is_err());
    }

    #[test]
    fn secrets_never_go_into_a_binding() {
        let err = draft(
            "dev",
            &[("repository", "acme/payments"), ("api_token", "x")],
        )
        .validate(&github(None), &path())
        .unwrap_err();
        assert!(err.to_string().contains("keyring"), "{err}");
    }
}
