//! Provider credentials in the OS keyring (Secret Service on Linux, Keychain on
//! macOS, Credential Manager on Windows). Secrets are `SecretString` from the
//! moment they are read; the only thing that leaves this crate as plain data
//! is whether a credential is set.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use specta::Type;
use thiserror::Error;

/// The systems Release Desk can hold a credential for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Github,
    AzureDevops,
    Kubernetes,
    AzureAppService,
    AwsSsm,
    ServiceNow,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Self::Github,
        Self::AzureDevops,
        Self::Kubernetes,
        Self::AzureAppService,
        Self::AwsSsm,
        Self::ServiceNow,
    ];

    /// The stable name an audit entry records the provider by.
    pub fn key(self) -> &'static str {
        self.account()
    }

    /// The keyring account name; stable, since renaming it would orphan entries.
    fn account(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::AzureDevops => "azure-devops",
            Self::Kubernetes => "kubernetes",
            Self::AzureAppService => "azure-app-service",
            Self::AwsSsm => "aws-ssm",
            Self::ServiceNow => "servicenow",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Github => "GitHub",
            Self::AzureDevops => "Azure DevOps",
            Self::Kubernetes => "Kubernetes",
            Self::AzureAppService => "Azure App Service",
            Self::AwsSsm => "AWS Systems Manager",
            Self::ServiceNow => "ServiceNow",
        }
    }

    /// What kind of secret the provider takes, to label the input.
    pub fn secret_kind(self) -> &'static str {
        match self {
            Self::Github => "Fine-grained personal access token",
            Self::AzureDevops => "Personal access token",
            Self::Kubernetes => "Service account bearer token",
            Self::AzureAppService => "Service principal client secret",
            Self::AwsSsm => "Secret access key",
            Self::ServiceNow => "OAuth client secret",
        }
    }
}

/// What the UI may know about a credential: whether it is set. Never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CredentialStatus {
    pub provider: Provider,
    pub label: String,
    pub secret_kind: String,
    pub set: bool,
}

#[derive(Debug, Error)]
pub enum CredentialError {
    #[error("the system keyring is unavailable or locked ({detail}). Unlock it (on Linux: GNOME Keyring or KWallet, through the Secret Service) and try again")]
    Unavailable { detail: String },

    #[error("the keyring refused the credential: {detail}")]
    Rejected { detail: String },

    #[error("{0}")]
    Invalid(&'static str),
}

impl CredentialError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "keyring_unavailable",
            Self::Rejected { .. } => "keyring_rejected",
            Self::Invalid(_) => "invalid_input",
        }
    }
}

pub type Result<T, E = CredentialError> = std::result::Result<T, E>;

/// Longest token we store; provider tokens are far shorter, so anything longer
/// is a paste of the wrong thing.
const MAX_SECRET_LEN: usize = 8 * 1024;

/// The credential store for one keyring service name.
#[derive(Debug, Clone)]
pub struct Credentials {
    service: String,
}

impl Credentials {
    /// The store of this build: debug and release builds keep separate entries
    /// so a development build never reads production credentials.
    pub fn for_this_build() -> Self {
        let service = if cfg!(debug_assertions) {
            "dev.releasedesk.app.debug"
        } else {
            "dev.releasedesk.app"
        };
        Self::with_service(service)
    }

    pub fn with_service(service: &str) -> Self {
        Self {
            service: service.to_owned(),
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, account).map_err(map_error)
    }

    pub fn set(&self, provider: Provider, secret: &SecretString) -> Result<()> {
        self.set_account(provider.account(), secret)
    }

    /// The credential, or `None` when none is set.
    pub fn get(&self, provider: Provider) -> Result<Option<SecretString>> {
        self.get_account(provider.account())
    }

    /// Removes the credential; `false` when there was none.
    pub fn remove(&self, provider: Provider) -> Result<bool> {
        self.remove_account(provider.account())
    }

    /// Stores the secret of one keyring account, such as a connection's
    /// (`connection-3`): each connection keeps its own token.
    pub fn set_account(&self, account: &str, secret: &SecretString) -> Result<()> {
        let value = secret.expose_secret().trim();
        if value.is_empty() {
            return Err(CredentialError::Invalid(
                "the credential is empty: paste the token or secret",
            ));
        }
        if value.len() > MAX_SECRET_LEN {
            return Err(CredentialError::Invalid(
                "the credential is longer than 8 KiB: check what was pasted",
            ));
        }
        if value.contains(['\n', '\r']) {
            return Err(CredentialError::Invalid(
                "the credential spans several lines: paste only the token",
            ));
        }
        self.entry(account)?
            .set_password(value)
            .map_err(map_error)?;
        tracing::info!(account, "credential stored in the OS keyring");
        Ok(())
    }

    /// One account's secret, or `None` when none is set.
    pub fn get_account(&self, account: &str) -> Result<Option<SecretString>> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(SecretString::from(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Removes one account's secret; `false` when there was none.
    pub fn remove_account(&self, account: &str) -> Result<bool> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => {
                tracing::info!(account, "credential removed from the OS keyring");
                Ok(true)
            }
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(map_error(e)),
        }
    }

    pub fn status(&self) -> Result<Vec<CredentialStatus>> {
        Provider::ALL
            .iter()
            .map(|&provider| {
                Ok(CredentialStatus {
                    provider,
                    label: provider.label().to_owned(),
                    secret_kind: provider.secret_kind().to_owned(),
                    set: self.get(provider)?.is_some(),
                })
            })
            .collect()
    }
}

/// Keyring errors never contain the secret itself, only the platform's reason.
fn map_error(err: keyring::Error) -> CredentialError {
    match err {
        keyring::Error::PlatformFailure(e) | keyring::Error::NoStorageAccess(e) => {
            CredentialError::Unavailable {
                detail: e.to_string(),
            }
        }
        other => CredentialError::Rejected {
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    //! These run against the real Secret Service: `make test` starts a
    //! gnome-keyring-daemon inside `dbus-run-session` first.
    use super::*;

    fn store(name: &str) -> Credentials {
        Credentials::with_service(&format!(
            "dev.releasedesk.test.{name}.{}",
            std::process::id()
        ))
    }

    #[test]
    fn a_missing_credential_is_none_not_an_error() {
        let c = store("missing");
        assert!(c.get(Provider::Github).unwrap().is_none());
        assert!(!c.remove(Provider::Github).unwrap());
        assert!(c.status().unwrap().iter().all(|s| !s.set));
    }

    #[test]
    fn stores_reads_and_removes_a_token() {
        let c = store("roundtrip");
        let token = SecretString::from("ghp_roundtrip_0123456789abcdef".to_owned());
        c.set(Provider::Github, &token).unwrap();
        assert_eq!(
            c.get(Provider::Github).unwrap().unwrap().expose_secret(),
            "ghp_roundtrip_0123456789abcdef"
        );
        let status = c.status().unwrap();
        assert!(
            status
                .iter()
                .find(|s| s.provider == Provider::Github)
                .unwrap()
                .set
        );
        assert!(
            !status
                .iter()
                .find(|s| s.provider == Provider::ServiceNow)
                .unwrap()
                .set
        );
        assert!(c.remove(Provider::Github).unwrap());
        assert!(c.get(Provider::Github).unwrap().is_none());
    }

    #[test]
    fn refuses_empty_oversized_and_multiline_secrets() {
        let c = store("invalid");
        for bad in ["   ", "line1\nline2"] {
            let err = c
                .set(Provider::AwsSsm, &SecretString::from(bad.to_owned()))
                .unwrap_err();
            assert_eq!(err.code(), "invalid_input");
        }
        let huge = SecretString::from("x".repeat(MAX_SECRET_LEN + 1));
        assert_eq!(
            c.set(Provider::AwsSsm, &huge).unwrap_err().code(),
            "invalid_input"
        );
        assert!(c.get(Provider::AwsSsm).unwrap().is_none());
    }

    #[test]
    fn debug_and_release_builds_use_different_services() {
        let service = Credentials::for_this_build().service().to_owned();
        assert_eq!(
            service.ends_with(".debug"),
            cfg!(debug_assertions),
            "{service}"
        );
        assert!(service.starts_with("dev.releasedesk.app"));
    }

    #[test]
    fn the_status_carries_no_secret() {
        let c = store("status");
        c.set(
            Provider::Kubernetes,
            &SecretString::from("kube-token-SENTINEL-42".to_owned()),
        )
        .unwrap();
        let json = serde_json::to_string(&c.status().unwrap()).unwrap();
        assert!(!json.contains("SENTINEL"), "{json}");
        c.remove(Provider::Kubernetes).unwrap();
    }
}
