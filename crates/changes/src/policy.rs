//! Approval policies: for an environment and a change type, who must approve
//! (roles or named people, N of each), how long approvals and requests stay
//! valid, what happens when a request expires, and the emergency path.

use release_desk_domain::Slug;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{ChangeError, ChangeType, ProfileId, Result, Role};

/// Someone who may approve under a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "by")]
pub enum Approver {
    /// Anyone holding the role.
    Role { role: Role },
    /// One named person. The name is kept for messages.
    Person { profile: ProfileId, name: String },
}

impl Approver {
    pub fn label(&self) -> String {
        match self {
            Self::Role { role } => role.to_string(),
            Self::Person { name, .. } => name.clone(),
        }
    }
}

/// `needed` approvals from distinct people among `approvers` (any of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRule {
    pub approvers: Vec<Approver>,
    pub needed: u32,
}

impl ApprovalRule {
    pub fn label(&self) -> String {
        self.approvers
            .iter()
            .map(Approver::label)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "action")]
pub enum ExpiryAction {
    /// The request closes as expired: not a rejection by anyone, but the change
    /// must be submitted for authorisation again.
    Reject,
    /// The request stays open and people holding this role may approve in place
    /// of any missing approver.
    Escalate { to: Role },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyPath {
    /// Stages of the path to live an emergency change may skip.
    pub skip_stages: Vec<Slug>,
    /// Approvals may be given after implementation, in the post-implementation
    /// review; the change cannot close until they are.
    pub approve_after_the_fact: bool,
}

/// More approvals than a board has members is a typing mistake.
pub const MAX_NEEDED: u32 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPolicy {
    /// `None` applies to every environment without a policy of its own.
    pub environment: Option<Slug>,
    pub kind: ChangeType,
    pub rules: Vec<ApprovalRule>,
    /// An approval older than this no longer counts.
    pub approval_valid_hours: Option<u32>,
    /// A request pending longer than this expires.
    pub request_expiry_hours: Option<u32>,
    pub on_expiry: ExpiryAction,
    pub emergency: Option<EmergencyPath>,
}

impl ApprovalPolicy {
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| ChangeError::Invalid {
            field: "approval policy",
            reason,
        };
        if self.kind == ChangeType::Standard && !self.rules.is_empty() {
            return Err(invalid(
                "standard changes are pre-approved: a policy for them has no approval rules".into(),
            ));
        }
        if self.kind != ChangeType::Standard && self.rules.is_empty() && self.emergency.is_none() {
            return Err(invalid(format!(
                "a policy for {} changes needs at least one approval rule",
                self.kind.as_str()
            )));
        }
        for rule in &self.rules {
            if rule.needed > MAX_NEEDED {
                return Err(invalid(format!(
                    "a rule may ask for at most {MAX_NEEDED} approvals"
                )));
            }
            if rule.needed == 0 || rule.approvers.is_empty() {
                return Err(invalid(
                    "each rule needs at least one approver and one approval".into(),
                ));
            }
            let only_people = rule
                .approvers
                .iter()
                .all(|a| matches!(a, Approver::Person { .. }));
            if only_people && rule.needed as usize > rule.approvers.len() {
                return Err(invalid(format!(
                    "a rule asks for {} approvals from {} named people: it could never be met",
                    rule.needed,
                    rule.approvers.len()
                )));
            }
        }
        if self.emergency.is_some() && self.kind != ChangeType::Emergency {
            return Err(invalid(
                "only a policy for emergency changes has an emergency path".into(),
            ));
        }
        Ok(())
    }

    /// Total approvals the policy asks for.
    pub fn required(&self) -> u32 {
        self.rules.iter().map(|r| r.needed).sum()
    }

    pub fn approves_after_the_fact(&self) -> bool {
        self.emergency
            .as_ref()
            .is_some_and(|e| e.approve_after_the_fact)
    }
}

/// Picks the policy for an environment: its own, else the one for every environment.
pub fn policy_for<'a>(
    policies: &'a [ApprovalPolicy],
    environment: &Slug,
    kind: ChangeType,
) -> Option<&'a ApprovalPolicy> {
    policies
        .iter()
        .find(|p| p.kind == kind && p.environment.as_ref() == Some(environment))
        .or_else(|| {
            policies
                .iter()
                .find(|p| p.kind == kind && p.environment.is_none())
        })
}

/// The policies a new workspace starts with, modelled on a UK public-sector
/// change process: a change manager authorises, production also needs the
/// service owner, and the emergency CAB can approve after the fact.
pub fn default_policies() -> Vec<ApprovalPolicy> {
    let role = |r: &str| Approver::Role {
        // Proven infallible: the literals below are valid slugs (unit-tested).
        role: Slug::parse(r).expect("literal role is a valid slug"),
    };
    let slug = |s: &str| Slug::parse(s).expect("literal stage is a valid slug");
    vec![
        ApprovalPolicy {
            environment: None,
            kind: ChangeType::Normal,
            rules: vec![ApprovalRule {
                approvers: vec![role("change-manager")],
                needed: 1,
            }],
            approval_valid_hours: Some(24 * 7),
            request_expiry_hours: Some(24 * 5),
            on_expiry: ExpiryAction::Reject,
            emergency: None,
        },
        ApprovalPolicy {
            environment: Some(slug("production")),
            kind: ChangeType::Normal,
            rules: vec![
                ApprovalRule {
                    approvers: vec![role("change-manager")],
                    needed: 1,
                },
                ApprovalRule {
                    approvers: vec![role("service-owner")],
                    needed: 1,
                },
            ],
            approval_valid_hours: Some(72),
            request_expiry_hours: Some(48),
            on_expiry: ExpiryAction::Escalate {
                to: Slug::parse("head-of-service").expect("literal role is a valid slug"),
            },
            emergency: None,
        },
        ApprovalPolicy {
            environment: None,
            kind: ChangeType::Emergency,
            rules: vec![ApprovalRule {
                approvers: vec![role("change-manager"), role("cab-member")],
                needed: 1,
            }],
            approval_valid_hours: None,
            request_expiry_hours: None,
            on_expiry: ExpiryAction::Reject,
            emergency: Some(EmergencyPath {
                skip_stages: vec![slug("test"), slug("uat")],
                approve_after_the_fact: true,
            }),
        },
        ApprovalPolicy {
            environment: None,
            kind: ChangeType::Standard,
            rules: vec![],
            approval_valid_hours: None,
            request_expiry_hours: None,
            on_expiry: ExpiryAction::Reject,
            emergency: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policies_are_valid_and_cover_every_type() {
        let policies = default_policies();
        for p in &policies {
            p.validate().unwrap();
        }
        let prod = Slug::parse("production").unwrap();
        let uat = Slug::parse("uat").unwrap();
        assert_eq!(
            policy_for(&policies, &prod, ChangeType::Normal)
                .unwrap()
                .required(),
            2
        );
        assert_eq!(
            policy_for(&policies, &uat, ChangeType::Normal)
                .unwrap()
                .required(),
            1
        );
        assert!(policy_for(&policies, &uat, ChangeType::Emergency)
            .unwrap()
            .approves_after_the_fact());
        assert_eq!(
            policy_for(&policies, &uat, ChangeType::Standard)
                .unwrap()
                .required(),
            0
        );
    }

    #[test]
    fn refuses_a_rule_that_could_never_be_met() {
        let mut p = default_policies().remove(0);
        p.rules = vec![ApprovalRule {
            approvers: vec![Approver::Person {
                profile: ProfileId(1),
                name: "Sam".into(),
            }],
            needed: 2,
        }];
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("could never be met"));
    }

    #[test]
    fn refuses_approvals_for_standard_changes() {
        let mut p = default_policies().remove(0);
        p.kind = ChangeType::Standard;
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("pre-approved"));
    }
}
