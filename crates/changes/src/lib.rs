//! Change records (RFCs) and their approval: the record and its state machine,
//! risk, standard-change templates, approval policies, and how decisions add up
//! to a quorum. Pure rules with no I/O; the store persists them and the audit
//! log records every step.

mod approval;
mod error;
mod lifecycle;
mod matching;
mod policy;
mod profile;
mod record;
mod risk;
mod template;

pub use approval::{
    check_decision, check_provider_decision, evaluate, evaluate_provider_approval, Decision,
    Discount, EnvironmentApproval, RequestStatus, Verdict, WeighedDecision,
};
pub use error::{ChangeError, Result};
pub use lifecycle::{guard_facts, next_state, settle, GuardFacts, Transition};
pub use policy::{
    default_policies, policy_for, ApprovalPolicy, ApprovalRule, Approver, EmergencyPath,
    ExpiryAction,
};
pub use profile::{
    actor_label, KnownRole, Profile, ProfileDraft, ProfileId, Role, ValidProfile,
    LOCAL_PROFILE_NOTE,
};
pub use record::{
    check_planned_window, ArtefactRef, BoundArtefact, ChangeDraft, ChangeId, ChangeRecord,
    ChangeState, ChangeType, CloseOutcome, Link, LinkKind, MAX_PLANNED_DAYS, MAX_TITLE_LEN,
};
pub use risk::{assess, RiskAssessment, RiskFlag, RiskInputs, RiskLevel, RiskOverride};
pub use template::{template, StandardTemplate, TEMPLATES};

#[cfg(test)]
mod tests;
