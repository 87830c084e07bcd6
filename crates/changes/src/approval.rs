//! Decisions and what they add up to. A decision is never edited: a person
//! changes their mind by deciding again, and only their latest decision counts.
//! Approvals are bound to the artefact digest they were given for.

use chrono::{DateTime, Duration, Utc};
use release_desk_domain::{Digest, Slug};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::collections::BTreeMap;

use crate::policy::{ApprovalPolicy, ApprovalRule, Approver, ExpiryAction};
use crate::{ChangeError, ChangeRecord, ChangeState, Profile, ProfileId, Result, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Reject => "reject",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "approve" => Some(Self::Approve),
            "reject" => Some(Self::Reject),
            _ => None,
        }
    }
}

/// A recorded decision, with the roles the person held and the digest they saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    #[specta(type = u32)]
    pub id: i64,
    pub by: ProfileId,
    pub by_name: String,
    pub roles: Vec<Role>,
    pub verdict: Verdict,
    pub comment: String,
    pub at: DateTime<Utc>,
    pub digest: Digest,
}

/// Why a decision does not count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum Discount {
    /// The requester or the deployer decided on their own change.
    SelfApproval,
    /// Given for another artefact; the change now ships a different digest.
    DigestChanged { was: Digest },
    /// Older than the policy's validity period.
    Expired { at: DateTime<Utc> },
    /// A later decision by the same person replaces it.
    Superseded,
    /// The person holds none of the roles the policy asks for.
    NotEligible,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WeighedDecision {
    pub decision: Decision,
    /// `None` when it counts.
    pub discount: Option<Discount>,
    /// The rule an approval was counted towards.
    pub counted_for: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "status"
)]
pub enum RequestStatus {
    NotRequested,
    Open {
        expires_at: Option<DateTime<Utc>>,
    },
    /// Expired without enough approvals: not a rejection by a person.
    Expired {
        at: DateTime<Utc>,
    },
    Escalated {
        at: DateTime<Utc>,
        to: Role,
    },
}

/// Where one target environment stands under its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentApproval {
    pub environment: Slug,
    pub required: u32,
    pub approved: u32,
    /// Labels of the rules still short, one per missing approval.
    pub missing: Vec<String>,
    /// Latest valid rejections; any one blocks authorisation.
    pub rejected_by: Vec<String>,
    pub request: RequestStatus,
    pub after_the_fact: bool,
    pub satisfied: bool,
    pub decisions: Vec<WeighedDecision>,
}

impl EnvironmentApproval {
    /// "1 of 2 required approvals; missing: change-manager".
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "{} of {} required approvals",
            self.approved, self.required
        )];
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        if !self.rejected_by.is_empty() {
            parts.push(format!("rejected by {}", self.rejected_by.join(", ")));
        }
        match &self.request {
            RequestStatus::Expired { at } => parts.push(format!(
                "the request expired on {}; submit it for authorisation again",
                at.format("%Y-%m-%d %H:%M UTC")
            )),
            RequestStatus::Escalated { to, .. } => parts.push(format!("escalated to {to}")),
            _ => {}
        }
        parts.join("; ")
    }
}

/// Weighs every decision on a change against one environment's policy.
pub fn evaluate(
    record: &ChangeRecord,
    environment: &Slug,
    policy: &ApprovalPolicy,
    decisions: &[Decision],
    now: DateTime<Utc>,
) -> EnvironmentApproval {
    let request = request_status(record, policy, now);
    let escalation = escalation(record, policy);
    weigh(
        Subject {
            environment,
            is_party: &|p| record.is_party(p),
            digest: Some(&record.artefact.digest),
            escalated_to: escalation.as_ref(),
        },
        policy,
        decisions,
        request,
        now,
    )
}

/// Weighs the decisions people took in the desk on an approval a provider
/// waits on (a GitHub environment's reviewers): the same policy, quorum,
/// validity and separation of duties as for a change record. `parties` are
/// the people who may not decide (who started the deployment); `subject`
/// names exactly what waits (the run and its commit), and a decision given
/// for anything else does not count.
pub fn evaluate_provider_approval(
    environment: &Slug,
    policy: &ApprovalPolicy,
    decisions: &[Decision],
    parties: &[ProfileId],
    subject: &Digest,
    now: DateTime<Utc>,
) -> EnvironmentApproval {
    weigh(
        Subject {
            environment,
            is_party: &|p| parties.contains(&p),
            digest: Some(subject),
            escalated_to: None,
        },
        policy,
        decisions,
        RequestStatus::Open { expires_at: None },
        now,
    )
}

/// Whether a person may decide on a provider's approval: not one of its
/// parties, a reason for a rejection, and a role the policy asks for.
pub fn check_provider_decision(
    environment: &Slug,
    policy: &ApprovalPolicy,
    parties: &[ProfileId],
    profile: &Profile,
    verdict: Verdict,
    comment: &str,
) -> Result<()> {
    if parties.contains(&profile.id) {
        return Err(ChangeError::Refused {
            rule: "separation_of_duties",
            message: format!(
                "separation of duties: you started this deployment to {environment}, so you cannot approve or reject it; ask someone with the approver role"
            ),
        });
    }
    if verdict == Verdict::Reject && comment.trim().is_empty() {
        return Err(ChangeError::Refused {
            rule: "reason_required",
            message: "a rejection needs a reason: say what would make the deployment acceptable"
                .into(),
        });
    }
    let holds = |rule: &ApprovalRule| {
        rule.approvers.iter().any(|a| match a {
            Approver::Role { role } => profile.roles.contains(role),
            Approver::Person { profile: p, .. } => *p == profile.id,
        })
    };
    if !policy.rules.iter().any(holds) {
        let wanted: Vec<String> = policy.rules.iter().map(ApprovalRule::label).collect();
        return Err(ChangeError::Refused {
            rule: "approver_role",
            message: format!(
                "you cannot decide on deployments to {environment}: its policy asks for {}, and you hold {}",
                if wanted.is_empty() { "no approvers".to_owned() } else { wanted.join("; ") },
                profile.roles_text()
            ),
        });
    }
    Ok(())
}

/// What the decisions are weighed about.
struct Subject<'a> {
    environment: &'a Slug,
    /// Who may not decide (requested or deploys it).
    is_party: &'a dyn Fn(ProfileId) -> bool,
    /// The digest approvals must have been given for, where there is one.
    digest: Option<&'a Digest>,
    escalated_to: Option<&'a (DateTime<Utc>, Role)>,
}

fn weigh(
    subject: Subject<'_>,
    policy: &ApprovalPolicy,
    decisions: &[Decision],
    request: RequestStatus,
    now: DateTime<Utc>,
) -> EnvironmentApproval {
    let escalated_to = subject.escalated_to;

    // Latest decision per person wins; earlier ones are superseded. "Latest"
    // is the order of recording (ids increase), not the clock, which can step
    // back between two decisions.
    let mut latest: BTreeMap<ProfileId, usize> = BTreeMap::new();
    for (i, d) in decisions.iter().enumerate() {
        match latest.get(&d.by) {
            Some(&j) if decisions[j].id >= d.id => {}
            _ => {
                latest.insert(d.by, i);
            }
        }
    }

    let mut weighed: Vec<WeighedDecision> = decisions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let discount = if latest.get(&d.by) != Some(&i) {
                Some(Discount::Superseded)
            } else if (subject.is_party)(d.by) {
                Some(Discount::SelfApproval)
            } else if subject.digest.is_some_and(|digest| d.digest != *digest) {
                Some(Discount::DigestChanged {
                    was: d.digest.clone(),
                })
            } else if d.verdict == Verdict::Approve && is_expired(d, policy, now) {
                Some(Discount::Expired {
                    at: d.at + Duration::hours(i64::from(policy.approval_valid_hours.unwrap_or(0))),
                })
            } else if !policy.rules.iter().any(|r| eligible(r, d, escalated_to)) {
                Some(Discount::NotEligible)
            } else {
                None
            };
            WeighedDecision {
                decision: d.clone(),
                discount,
                counted_for: None,
            }
        })
        .collect();

    let rejected_by: Vec<String> = weighed
        .iter()
        .filter(|w| w.discount.is_none() && w.decision.verdict == Verdict::Reject)
        .map(|w| w.decision.by_name.clone())
        .collect();

    // Each valid approval fills at most one required slot; a person with two
    // roles cannot satisfy two rules alone.
    let slots: Vec<usize> = policy
        .rules
        .iter()
        .enumerate()
        .flat_map(|(r, rule)| std::iter::repeat_n(r, rule.needed as usize))
        .collect();
    let approvals: Vec<usize> = weighed
        .iter()
        .enumerate()
        .filter(|(_, w)| w.discount.is_none() && w.decision.verdict == Verdict::Approve)
        .map(|(i, _)| i)
        .collect();
    let fits = |a: usize, s: usize| {
        eligible(
            &policy.rules[slots[s]],
            &weighed[approvals[a]].decision,
            escalated_to,
        )
    };
    let slot_of_slot_owner = crate::matching::maximum_matching(approvals.len(), slots.len(), fits);
    let mut filled = vec![false; slots.len()];
    for (a, slot) in slot_of_slot_owner.iter().enumerate() {
        if let Some(s) = slot {
            filled[*s] = true;
            weighed[approvals[a]].counted_for = Some(policy.rules[slots[*s]].label());
        }
    }
    let missing: Vec<String> = slots
        .iter()
        .zip(&filled)
        .filter(|(_, f)| !**f)
        .map(|(r, _)| policy.rules[*r].label())
        .collect();
    let approved = filled.iter().filter(|f| **f).count() as u32;
    let quorum = missing.is_empty() && rejected_by.is_empty();
    let expired = matches!(request, RequestStatus::Expired { .. });

    EnvironmentApproval {
        environment: subject.environment.clone(),
        required: slots.len() as u32,
        approved,
        missing,
        rejected_by,
        after_the_fact: policy.approves_after_the_fact(),
        satisfied: quorum && !expired,
        request,
        decisions: weighed,
    }
}

fn is_expired(d: &Decision, policy: &ApprovalPolicy, now: DateTime<Utc>) -> bool {
    policy
        .approval_valid_hours
        .is_some_and(|h| now - d.at > Duration::hours(i64::from(h)))
}

/// Since when, and to whom, a request escalates under the policy. A decision
/// made after that moment by someone with the role counts in place of a
/// missing approver, whatever state the change is in now.
fn escalation(record: &ChangeRecord, policy: &ApprovalPolicy) -> Option<(DateTime<Utc>, Role)> {
    let requested = record.approval_requested_at?;
    let hours = policy.request_expiry_hours?;
    match &policy.on_expiry {
        ExpiryAction::Escalate { to } => {
            Some((requested + Duration::hours(i64::from(hours)), to.clone()))
        }
        ExpiryAction::Reject => None,
    }
}

fn eligible(rule: &ApprovalRule, d: &Decision, escalation: Option<&(DateTime<Utc>, Role)>) -> bool {
    escalation.is_some_and(|(since, role)| d.at > *since && d.roles.contains(role))
        || rule.approvers.iter().any(|a| match a {
            Approver::Role { role } => d.roles.contains(role),
            Approver::Person { profile, .. } => *profile == d.by,
        })
}

fn request_status(
    record: &ChangeRecord,
    policy: &ApprovalPolicy,
    now: DateTime<Utc>,
) -> RequestStatus {
    let Some(requested) = record.approval_requested_at else {
        return RequestStatus::NotRequested;
    };
    let Some(hours) = policy.request_expiry_hours else {
        return RequestStatus::Open { expires_at: None };
    };
    let expires_at = requested + Duration::hours(i64::from(hours));
    // Only a request still waiting can expire; a scheduled change keeps its
    // approvals (their own validity is checked separately).
    if now <= expires_at || record.state != ChangeState::Authorise {
        return RequestStatus::Open {
            expires_at: Some(expires_at),
        };
    }
    match &policy.on_expiry {
        ExpiryAction::Reject => RequestStatus::Expired { at: expires_at },
        ExpiryAction::Escalate { to } => RequestStatus::Escalated {
            at: expires_at,
            to: to.clone(),
        },
    }
}

/// Whether a decision may be recorded at all. Refusals name the rule; they are
/// what the queue shows when someone tries to approve their own change.
pub fn check_decision(
    record: &ChangeRecord,
    policies: &[&ApprovalPolicy],
    profile: &Profile,
    verdict: Verdict,
    comment: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let after_the_fact = policies.iter().any(|p| p.approves_after_the_fact());
    let decidable = match record.state {
        ChangeState::Authorise | ChangeState::Scheduled => true,
        ChangeState::Implement | ChangeState::Review => after_the_fact,
        _ => false,
    };
    if !decidable {
        return Err(ChangeError::Refused {
            rule: "decision_state",
            message: format!(
                "{} is in {} and is not waiting for a decision",
                record.id,
                record.state.as_str()
            ),
        });
    }
    if record.is_party(profile.id) {
        let who = if record.requester == profile.id {
            "raised"
        } else {
            "will deploy"
        };
        return Err(ChangeError::Refused {
            rule: "separation_of_duties",
            message: format!(
                "separation of duties: you {who} {}, so you cannot approve or reject it; ask someone with the approver role",
                record.id
            ),
        });
    }
    if verdict == Verdict::Reject && comment.trim().is_empty() {
        return Err(ChangeError::Refused {
            rule: "reason_required",
            message: "a rejection needs a reason: say what would make the change acceptable".into(),
        });
    }
    let probe = Decision {
        id: i64::MAX,
        by: profile.id,
        by_name: profile.name.clone(),
        roles: profile.roles.clone(),
        verdict,
        comment: comment.to_owned(),
        at: now,
        digest: record.artefact.digest.clone(),
    };
    let allowed = policies.iter().any(|p| {
        let escalated = escalation(record, p);
        p.rules
            .iter()
            .any(|r| eligible(r, &probe, escalated.as_ref()))
    });
    if !allowed {
        let wanted: Vec<String> = policies
            .iter()
            .flat_map(|p| p.rules.iter().map(ApprovalRule::label))
            .collect();
        let held = profile.roles_text();
        return Err(ChangeError::Refused {
            rule: "approver_role",
            message: format!(
                "you cannot decide on {}: its policy asks for {}, and you hold {held}",
                record.id,
                if wanted.is_empty() {
                    "no approvers".to_owned()
                } else {
                    wanted.join("; ")
                }
            ),
        });
    }
    Ok(())
}
