//! Who is at the keyboard: a local profile with a name, an email and roles.
//! Every decision names the profile that made it. Provider identities (GitHub,
//! Entra ID) replace local profiles when the provider adapters arrive.

use release_desk_domain::{required_text, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

use crate::{ChangeError, Result};

/// A profile's id in the store.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(transparent)]
pub struct ProfileId(#[specta(type = u32)] pub i64);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "profile {}", self.0)
    }
}

/// A role such as `change-manager`: what approval policies ask for.
pub type Role = Slug;

/// What a local profile proves, said the same way wherever people are named
/// (the profile picker, every evidence pack, the README).
pub const LOCAL_PROFILE_NOTE: &str = "Profiles are local to this computer and chosen without a password: a name records who claimed to act, not who was authenticated. Every profile created and every switch between profiles is in the audit log, by profile id and email.";

/// The roles the app offers when a profile is created. Policies may name others.
pub const KNOWN_ROLES: [(&str, &str); 6] = [
    ("change-manager", "Assesses and authorises changes"),
    ("service-owner", "Accountable for a service in production"),
    ("release-manager", "Schedules windows and runs promotions"),
    ("product-owner", "Decides what ships"),
    ("cab-member", "Sits on the change advisory board"),
    ("head-of-service", "Receives escalated approvals"),
];

/// What a person types on first run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ProfileDraft {
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
}

/// A validated local profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub id: ProfileId,
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
}

impl Profile {
    pub fn has_role(&self, role: &Role) -> bool {
        self.roles.contains(role)
    }
}

/// A validated draft, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidProfile {
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
}

impl ProfileDraft {
    pub fn validate(self) -> Result<ValidProfile> {
        let name = required_text("name", &self.name)?;
        if name.chars().count() > 120 {
            return Err(ChangeError::Invalid {
                field: "name",
                reason: "use at most 120 characters".into(),
            });
        }
        let email = required_text("email", &self.email)?.to_ascii_lowercase();
        // Deliberately loose: the address is a label for people, never used to
        // send mail, so only reject what is plainly not an address.
        let looks_like_email = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
            })
            && !email.contains(char::is_whitespace);
        if !looks_like_email {
            return Err(ChangeError::Invalid {
                field: "email",
                reason: format!("'{}' is not an email address", truncate(&email)),
            });
        }
        let mut roles = self.roles;
        roles.sort();
        roles.dedup();
        Ok(ValidProfile { name, email, roles })
    }
}

pub(crate) fn truncate(value: &str) -> String {
    value.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, email: &str) -> ProfileDraft {
        ProfileDraft {
            name: name.into(),
            email: email.into(),
            roles: vec![
                Slug::parse("service-owner").unwrap(),
                Slug::parse("change-manager").unwrap(),
                Slug::parse("service-owner").unwrap(),
            ],
        }
    }

    #[test]
    fn validation_trims_lowercases_and_dedups_roles() {
        let p = draft("  Sam Okafor ", "Sam@Example.NHS.uk")
            .validate()
            .unwrap();
        assert_eq!(p.name, "Sam Okafor");
        assert_eq!(p.email, "sam@example.nhs.uk");
        assert_eq!(p.roles.len(), 2);
        assert_eq!(p.roles[0].as_str(), "change-manager");
    }

    #[test]
    fn refuses_what_is_plainly_not_an_email() {
        for bad in [
            "sam",
            "sam@",
            "@nhs.uk",
            "sam@nhs",
            "sam @nhs.uk",
            "sam@.uk",
        ] {
            let err = draft("Sam", bad).validate().unwrap_err();
            assert!(err.to_string().contains("email"), "{bad}: {err}");
        }
    }

    #[test]
    fn refuses_an_empty_name() {
        let err = draft("   ", "sam@nhs.uk").validate().unwrap_err();
        assert_eq!(err.to_string(), "name must not be empty");
    }
}
