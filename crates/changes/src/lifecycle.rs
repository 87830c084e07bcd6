//! The change record's state machine: New → Assess → Authorise → Scheduled →
//! Implement → Review → Closed, and Cancelled from any open state. Every guard
//! that refuses says which rule and what is missing.

use release_desk_domain::Slug;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::approval::EnvironmentApproval;
use crate::{ChangeError, ChangeRecord, ChangeState, ChangeType, CloseOutcome, Result};

/// Serialised with snake_case action names, the same names [`Transition::name`]
/// gives and the UI offers as steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Transition {
    /// New → Assess.
    Submit,
    /// Assess → Authorise: ask the approvers.
    RequestApproval,
    /// Authorise → Scheduled (normally automatic once approvals are complete;
    /// by hand for emergency approval after the fact), or New → Scheduled for a
    /// standard change.
    Schedule,
    /// Authorise or Scheduled → Assess: withdraw to rework the change.
    Rework,
    /// Scheduled → Implement.
    Start,
    /// Implement → Review.
    Complete,
    /// Review → Closed with its outcome.
    Close { outcome: CloseOutcome, note: String },
    /// Any open state → Cancelled.
    Cancel { reason: String },
}

impl Transition {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::RequestApproval => "request_approval",
            Self::Schedule => "schedule",
            Self::Rework => "rework",
            Self::Start => "start",
            Self::Complete => "complete",
            Self::Close { .. } => "close",
            Self::Cancel { .. } => "cancel",
        }
    }
}

#[cfg(test)]
mod names {
    use super::*;

    #[test]
    fn the_serialised_action_is_the_name() {
        for t in [
            Transition::Submit,
            Transition::RequestApproval,
            Transition::Schedule,
            Transition::Rework,
            Transition::Start,
            Transition::Complete,
            Transition::Close {
                outcome: CloseOutcome::Failed,
                note: "n".into(),
            },
            Transition::Cancel { reason: "r".into() },
        ] {
            let json = serde_json::to_value(&t).unwrap();
            assert_eq!(json["action"], t.name());
            assert_eq!(serde_json::from_value::<Transition>(json).unwrap(), t);
        }
    }
}

/// What the guards need to know beyond the record itself.
#[derive(Debug, Clone, Default)]
pub struct GuardFacts {
    /// One entry per target environment that has a policy.
    pub approvals: Vec<EnvironmentApproval>,
    /// Target environments without any policy for the change's type.
    pub without_policy: Vec<Slug>,
}

impl GuardFacts {
    fn all_satisfied(&self) -> bool {
        self.without_policy.is_empty() && self.approvals.iter().all(|a| a.satisfied)
    }

    /// Whether the emergency path lets the change go ahead before its
    /// approvals: every target allows it, none lacks a policy, and nobody
    /// entitled to decide has rejected it.
    fn after_the_fact(&self) -> bool {
        !self.approvals.is_empty()
            && self.without_policy.is_empty()
            && self
                .approvals
                .iter()
                .all(|a| a.after_the_fact && a.rejected_by.is_empty())
    }

    fn shortfall(&self) -> String {
        let mut parts: Vec<String> = self
            .approvals
            .iter()
            .filter(|a| !a.satisfied)
            .map(|a| {
                if self.approvals.len() == 1 {
                    a.summary()
                } else {
                    format!("{}: {}", a.environment, a.summary())
                }
            })
            .collect();
        if !self.without_policy.is_empty() {
            parts.push(no_policy(&self.without_policy));
        }
        parts.join("; ")
    }
}

fn no_policy(envs: &[Slug]) -> String {
    let names: Vec<&str> = envs.iter().map(Slug::as_str).collect();
    format!(
        "no approval policy covers {}; add a policy for it (Settings lists the policies in force)",
        names.join(", ")
    )
}

fn refuse(rule: &'static str, message: String) -> ChangeError {
    ChangeError::Refused { rule, message }
}

/// The state a transition leads to, or why it cannot happen now.
pub fn next_state(
    record: &ChangeRecord,
    transition: &Transition,
    facts: &GuardFacts,
) -> Result<ChangeState> {
    use ChangeState as S;
    let from = record.state;
    let wrong_state = |expected: &str| {
        refuse(
            "transition_state",
            format!(
                "cannot {}: {} is in {}, and this step needs it to be in {expected}",
                transition.name().replace('_', " "),
                record.id,
                from.as_str()
            ),
        )
    };
    match transition {
        Transition::Submit => {
            if from != S::New {
                return Err(wrong_state("new"));
            }
            if record.kind == ChangeType::Standard {
                return Err(refuse(
                    "standard_change",
                    "a standard change is pre-approved: schedule it directly".into(),
                ));
            }
            check_plans(record, "submit")?;
            Ok(S::Assess)
        }
        Transition::RequestApproval => {
            if from != S::Assess {
                return Err(wrong_state("assess"));
            }
            if !facts.without_policy.is_empty() {
                return Err(refuse(
                    "approval_policy",
                    format!(
                        "cannot request approval: {}",
                        no_policy(&facts.without_policy)
                    ),
                ));
            }
            Ok(S::Authorise)
        }
        Transition::Schedule => match (from, record.kind) {
            (S::New, ChangeType::Standard) => {
                check_plans(record, "schedule")?;
                check_routine(record, facts)?;
                Ok(S::Scheduled)
            }
            (S::Authorise, _) => {
                if facts.all_satisfied() || facts.after_the_fact() {
                    Ok(S::Scheduled)
                } else {
                    Err(refuse(
                        "approval_quorum",
                        format!("cannot schedule: {}", facts.shortfall()),
                    ))
                }
            }
            _ => Err(wrong_state(if record.kind == ChangeType::Standard {
                "new"
            } else {
                "authorise"
            })),
        },
        Transition::Rework => match from {
            S::Authorise | S::Scheduled if record.kind != ChangeType::Standard => Ok(S::Assess),
            _ => Err(wrong_state("authorise or scheduled")),
        },
        Transition::Start => {
            if from != S::Scheduled {
                return Err(wrong_state("scheduled"));
            }
            if record.kind != ChangeType::Standard
                && !facts.all_satisfied()
                && !facts.after_the_fact()
            {
                return Err(refuse(
                    "approval_quorum",
                    format!("cannot start: {}", facts.shortfall()),
                ));
            }
            Ok(S::Implement)
        }
        Transition::Complete => {
            if from != S::Implement {
                return Err(wrong_state("implement"));
            }
            Ok(S::Review)
        }
        Transition::Close { note, .. } => {
            if from != S::Review {
                return Err(wrong_state("review"));
            }
            release_desk_domain::required_text("closing note", note)?;
            if record.kind == ChangeType::Emergency && !facts.all_satisfied() {
                return Err(refuse(
                    "retrospective_approval",
                    format!(
                        "cannot close: the post-implementation review still needs approval after the fact ({})",
                        facts.shortfall()
                    ),
                ));
            }
            Ok(S::Closed)
        }
        Transition::Cancel { reason } => {
            if !from.is_open() {
                return Err(wrong_state("an open state"));
            }
            release_desk_domain::required_text("cancellation reason", reason)?;
            Ok(S::Cancelled)
        }
    }
}

/// A standard change is pre-approved only because it is routine: it must be
/// reversible, carry no schema migration, and target environments whose
/// policies allow standard changes. Anything else is raised as a normal change.
fn check_routine(record: &ChangeRecord, facts: &GuardFacts) -> Result<()> {
    let mut reasons = Vec::new();
    if !record.rollback_possible {
        reasons.push("it cannot be rolled back".to_owned());
    }
    if record.schema_migration {
        reasons.push("it ships a schema migration".to_owned());
    }
    if !facts.without_policy.is_empty() {
        let envs: Vec<&str> = facts.without_policy.iter().map(Slug::as_str).collect();
        reasons.push(format!(
            "no policy allows standard changes to {}",
            envs.join(", ")
        ));
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(refuse(
            "standard_change",
            format!(
                "cannot schedule as a standard change: {}; raise it as a normal change",
                reasons.join("; ")
            ),
        ))
    }
}

fn check_plans(record: &ChangeRecord, step: &str) -> Result<()> {
    let mut missing = Vec::new();
    if record.implementation_plan.is_empty() {
        missing.push("implementation plan");
    }
    if record.backout_plan.is_empty() && record.rollback_possible {
        missing.push("backout plan");
    }
    if record.test_plan.is_empty() {
        missing.push("test plan");
    }
    if !record.rollback_possible && record.no_rollback_justification.is_none() {
        missing.push("a written justification for shipping without a rollback");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(refuse(
            "change_plans",
            format!("cannot {step}: add {}", missing.join(", ")),
        ))
    }
}

/// After a decision or an edit, the state the approvals now call for: a
/// change waiting for authorisation is scheduled once its approvals are
/// complete, and a scheduled one goes back when they no longer are (a
/// rejection, or a new artefact voiding them).
pub fn settle(record: &ChangeRecord, facts: &GuardFacts) -> Option<(ChangeState, String)> {
    if record.kind == ChangeType::Standard {
        return None;
    }
    match record.state {
        ChangeState::Authorise if facts.all_satisfied() => {
            Some((ChangeState::Scheduled, "approvals complete".into()))
        }
        ChangeState::Scheduled if !facts.all_satisfied() && !facts.after_the_fact() => Some((
            ChangeState::Authorise,
            format!("approvals no longer complete: {}", facts.shortfall()),
        )),
        _ => None,
    }
}

/// Weighs the decisions on a change against the policy of each target environment.
pub fn guard_facts(
    record: &ChangeRecord,
    policies: &[crate::ApprovalPolicy],
    decisions: &[crate::Decision],
    now: chrono::DateTime<chrono::Utc>,
) -> GuardFacts {
    let mut facts = GuardFacts::default();
    for env in &record.environments {
        match crate::policy_for(policies, env, record.kind) {
            Some(p) => facts
                .approvals
                .push(crate::evaluate(record, env, p, decisions, now)),
            None => facts.without_policy.push(env.clone()),
        }
    }
    facts
}
