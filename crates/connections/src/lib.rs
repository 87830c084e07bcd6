//! A **connection** is one configured account of one provider: a GitHub
//! organisation on github.com, a GitHub Enterprise server, an Azure DevOps
//! organisation, a ServiceNow instance, a Kubernetes cluster, an Azure
//! subscription, an AWS account. A person may have several of one kind.
//! Its secrets live in the OS keyring under [`keyring_account`], never here.
//!
//! A connection may be limited to the lower stages of the path to live (its
//! *reach*): the reference texts ask that no lower environment has access to
//! a higher one, so a token kept for dev and test is never used against
//! production, whatever a binding says ([`may_reach`]).
//!
//! Pure rules: validation and reach. The store keeps connections in SQLite
//! (audited, release managers only); the adapters use them.

use std::collections::BTreeMap;

use release_desk_domain::{PathToLive, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;

mod binding;
pub use binding::{github_repository, Binding, BindingDraft, BindingId};

/// A connection's id in the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(transparent)]
pub struct ConnectionId(#[specta(type = u32)] pub i64);

/// The providers Release Desk reaches. The local nginx target is built in and
/// needs no connection.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionKind {
    Github,
    AzureDevops,
    Servicenow,
    Kubernetes,
    AppService,
    AwsSsm,
}

/// What a connection can do for the desk. A kind offers some of these; a
/// binding may only ask a connection for what its kind offers.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Deploys: blue-green, rolling, or a pipeline the provider runs.
    Deploy,
    /// A source of deployment history for the dashboard.
    DeploymentHistory,
    /// A source of approvals for the one queue.
    Approvals,
    /// A source of change records (RFCs).
    ChangeRecords,
}

impl ConnectionKind {
    pub const ALL: [ConnectionKind; 6] = [
        Self::Github,
        Self::AzureDevops,
        Self::Servicenow,
        Self::Kubernetes,
        Self::AppService,
        Self::AwsSsm,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::AzureDevops => "azure-devops",
            Self::Servicenow => "servicenow",
            Self::Kubernetes => "kubernetes",
            Self::AppService => "app-service",
            Self::AwsSsm => "aws-ssm",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == key)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Github => "GitHub",
            Self::AzureDevops => "Azure DevOps",
            Self::Servicenow => "ServiceNow",
            Self::Kubernetes => "Kubernetes",
            Self::AppService => "Azure App Service",
            Self::AwsSsm => "AWS Systems Manager",
        }
    }

    /// The API root most accounts of this kind use, when there is one
    /// (GitHub Enterprise, Azure DevOps Server, a cluster or an instance
    /// always name their own).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Self::Github => Some("https://api.github.com"),
            Self::AzureDevops => Some("https://dev.azure.com"),
            Self::AppService => Some("https://management.azure.com"),
            Self::Servicenow | Self::Kubernetes | Self::AwsSsm => None,
        }
    }

    /// What this kind of provider can do for the desk (../shared/specs/ENDPOINTS.md).
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            Self::Github => &[Deploy, DeploymentHistory, Approvals],
            Self::AzureDevops => &[Deploy, DeploymentHistory, Approvals],
            Self::Servicenow => &[Approvals, ChangeRecords],
            Self::Kubernetes => &[Deploy, DeploymentHistory],
            Self::AppService => &[Deploy, DeploymentHistory],
            Self::AwsSsm => &[Deploy],
        }
    }
}

/// What a person fills in to add a connection. Secrets are not part of it:
/// they go to the keyring through their own command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionDraft {
    pub kind: ConnectionKind,
    /// How people tell connections apart: "acme-org on GitHub".
    pub name: String,
    /// The API root; the kind's default when empty.
    pub base_url: Option<String>,
    /// Provider-specific settings (organisation, tenant, region…).
    pub settings: BTreeMap<String, String>,
    /// The highest stage of the path to live the connection may be used
    /// against; `None` for every stage.
    pub reach: Option<Slug>,
}

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: ConnectionId,
    pub kind: ConnectionKind,
    pub name: String,
    pub base_url: String,
    pub settings: BTreeMap<String, String>,
    pub reach: Option<Slug>,
}

/// A draft that passed [`ConnectionDraft::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConnection {
    pub kind: ConnectionKind,
    pub name: String,
    pub base_url: String,
    pub settings: BTreeMap<String, String>,
    pub reach: Option<Slug>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("{0}")]
    OutOfReach(String),
}

impl ConnectionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalid_input",
            Self::OutOfReach(_) => "connection_out_of_reach",
        }
    }
}

pub type Result<T, E = ConnectionError> = std::result::Result<T, E>;

fn invalid(field: &'static str, reason: impl Into<String>) -> ConnectionError {
    ConnectionError::Invalid {
        field,
        reason: reason.into(),
    }
}

/// At most this many settings, each key and value this long.
pub const MAX_SETTINGS: usize = 32;
const MAX_KEY: usize = 40;
const MAX_VALUE: usize = 500;
const MAX_NAME: usize = 80;

/// Setting names that would hold a secret: those go to the keyring.
const SECRET_WORDS: [&str; 6] = ["token", "password", "secret", "pat", "apikey", "api-key"];

impl ConnectionDraft {
    /// Checks the draft against the workspace's path to live.
    pub fn validate(self, path: &PathToLive) -> Result<ValidConnection> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(invalid(
                "name",
                format!("give the connection a name of 1 to {MAX_NAME} characters"),
            ));
        }
        let base_url = match self
            .base_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
        {
            Some(text) => base_url(text)?,
            None => self
                .kind
                .default_base_url()
                .map(str::to_owned)
                .ok_or_else(|| {
                    invalid(
                        "base URL",
                        format!(
                            "a {} connection needs the URL of its API",
                            self.kind.label()
                        ),
                    )
                })?,
        };
        check_settings(&self.settings)?;
        if let Some(reach) = &self.reach {
            if !path.stages().iter().any(|s| &s.key == reach) {
                return Err(invalid(
                    "reach",
                    format!("'{reach}' is not a stage of the path to live"),
                ));
            }
        }
        Ok(ValidConnection {
            kind: self.kind,
            name,
            base_url,
            settings: self.settings,
            reach: self.reach,
        })
    }
}

/// Settings are names and short one-line values, never secrets.
pub(crate) fn check_settings(settings: &BTreeMap<String, String>) -> Result<()> {
    if settings.len() > MAX_SETTINGS {
        return Err(invalid(
            "settings",
            format!("use at most {MAX_SETTINGS} settings"),
        ));
    }
    for (key, value) in settings {
        let ok_key = !key.is_empty()
            && key.len() <= MAX_KEY
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok_key {
            return Err(invalid(
                "settings",
                format!("'{}' is not a setting name: use lower-case letters, digits, - and _ (at most {MAX_KEY})", truncate(key)),
            ));
        }
        let lowered = key.replace('_', "-");
        if SECRET_WORDS
            .iter()
            .any(|w| lowered.split('-').any(|part| part == *w) || lowered == *w)
        {
            return Err(invalid(
                "settings",
                format!("'{key}' looks like a secret: secrets are kept in the OS keyring, never in a connection's settings"),
            ));
        }
        if value.chars().count() > MAX_VALUE || value.chars().any(char::is_control) {
            return Err(invalid(
                "settings",
                format!("the value of '{key}' must be at most {MAX_VALUE} characters on one line"),
            ));
        }
    }
    Ok(())
}

/// An API root: https, or http only to this computer (a local mock or
/// test server); no user name or password in it, no query or fragment.
fn base_url(text: &str) -> Result<String> {
    let url = url::Url::parse(text).map_err(|e| {
        invalid(
            "base URL",
            format!("'{}' is not a URL: {e}", truncate(text)),
        )
    })?;
    let loopback = matches!(
        url.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(invalid(
                "base URL",
                "use https: a token must never travel in clear text (plain http is allowed only to this computer)",
            ))
        }
        other => return Err(invalid("base URL", format!("'{other}' is not http or https"))),
    }
    if url.host().is_none() {
        return Err(invalid("base URL", "the URL names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "base URL",
            "remove the user name and password from the URL: credentials are kept in the OS keyring",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "base URL",
            "the API root takes no query or fragment",
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Whether `connection` may be used against `environment`: never above its
/// reach. The reach is judged by the path's current order, so it follows a
/// reordered path.
pub fn may_reach(connection: &Connection, environment: &Slug, path: &PathToLive) -> Result<()> {
    let Some(reach) = &connection.reach else {
        return Ok(());
    };
    let position = |key: &Slug| path.stages().iter().position(|s| &s.key == key);
    let (Some(limit), Some(target)) = (position(reach), position(environment)) else {
        return Err(ConnectionError::OutOfReach(format!(
            "connection '{}' is limited to stages up to {reach}, and {environment} is not a stage it can be placed against; check the path to live",
            connection.name
        )));
    };
    if target > limit {
        return Err(ConnectionError::OutOfReach(format!(
            "connection '{}' is limited to stages up to {reach}, so it is never used against {environment}: a lower environment's credentials have no access to a higher one. Bind {environment} to a connection that reaches it",
            connection.name
        )));
    }
    Ok(())
}

/// The keyring account that holds a connection's secret (a token, a client
/// secret). One per connection, so two GitHub organisations keep two tokens.
pub fn keyring_account(id: ConnectionId) -> String {
    format!("connection-{}", id.0)
}

fn truncate(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests;
