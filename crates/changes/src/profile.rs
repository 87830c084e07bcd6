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

/// A role the app itself gives powers to (policies may name others, such as
/// `security-lead`, for their approvers). Rules about who may do what take
/// one of these, never a free string, so a typo cannot silently grant or
/// withhold a power; see the `release-desk-access` crate.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(rename_all = "kebab-case")]
pub enum KnownRole {
    ChangeManager,
    ServiceOwner,
    ReleaseManager,
    ProductOwner,
    CabMember,
    HeadOfService,
}

impl KnownRole {
    /// Every known role, in the order the profile form offers them.
    pub const ALL: [KnownRole; 6] = [
        Self::ChangeManager,
        Self::ServiceOwner,
        Self::ReleaseManager,
        Self::ProductOwner,
        Self::CabMember,
        Self::HeadOfService,
    ];

    /// The role's key, as stored in a profile and named by policies.
    pub fn key(self) -> &'static str {
        match self {
            Self::ChangeManager => "change-manager",
            Self::ServiceOwner => "service-owner",
            Self::ReleaseManager => "release-manager",
            Self::ProductOwner => "product-owner",
            Self::CabMember => "cab-member",
            Self::HeadOfService => "head-of-service",
        }
    }

    /// What a holder of the role does, for the profile form.
    pub fn description(self) -> &'static str {
        match self {
            Self::ChangeManager => "Assesses and authorises changes",
            Self::ServiceOwner => "Accountable for a service in production",
            Self::ReleaseManager => "Schedules windows and runs promotions",
            Self::ProductOwner => "Decides what ships",
            Self::CabMember => "Sits on the change advisory board",
            Self::HeadOfService => "Receives escalated approvals",
        }
    }

    /// The known role a stored role names, if any.
    pub fn of(role: &Role) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == role.as_str())
    }

    /// The role as a slug, for a profile or a policy.
    pub fn role(self) -> Role {
        Slug::parse(self.key()).expect("known role keys are slugs")
    }
}

impl fmt::Display for KnownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

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

    /// How the audit log names the person: name, email and profile id, so
    /// two people with one name are never confused and the entry still reads
    /// as a sentence. Hashed with the entry like every other field.
    pub fn actor(&self) -> String {
        actor_label(&self.name, &self.email, self.id)
    }

    /// Whether the profile holds a role the app gives powers to.
    pub fn holds(&self, role: KnownRole) -> bool {
        self.roles.iter().any(|r| r.as_str() == role.key())
    }

    /// The profile's roles for a message: "release-manager, cab-member" or
    /// "no roles".
    pub fn roles_text(&self) -> String {
        if self.roles.is_empty() {
            "no roles".into()
        } else {
            self.roles
                .iter()
                .map(Slug::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// The audit log's name for a person (see [`Profile::actor`]).
pub fn actor_label(name: &str, email: &str, id: ProfileId) -> String {
    format!("{name} <{email}> (profile {})", id.0)
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
    fn every_known_role_key_is_a_slug_that_names_it_back() {
        for role in KnownRole::ALL {
            assert_eq!(KnownRole::of(&role.role()), Some(role));
            let json = serde_json::to_value(role).unwrap();
            assert_eq!(json, role.key());
        }
        assert_eq!(KnownRole::of(&Slug::parse("security-lead").unwrap()), None);
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
