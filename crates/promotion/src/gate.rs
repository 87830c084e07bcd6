//! Gates: what must hold before a promotion may start, each judged pass,
//! fail or skipped with a reason a person can act on.
//!
//! The caller gathers the facts (from the store, the calendar and the
//! workspace's trusted keys); judging them is pure, so every gate's rule is
//! tested here without a database.

use chrono::{DateTime, Utc};
use release_desk_calendar::{Conflict, ConflictKind};
use release_desk_changes::{ChangeState, ChangeType};
use release_desk_domain::{Digest, Slug};
use release_desk_provider::verify_artefact_signature;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::PromotionKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// The same digest succeeded in the previous stage of the path to live.
    PreviousStage,
    /// The artefact's signature verifies against a trusted key.
    Signature,
    /// A change record for this environment is approved under its policy.
    Approval,
    /// A release window is open and no freeze applies (or one was overridden).
    ReleaseWindow,
    /// No other promotion holds the environment.
    EnvironmentLock,
    /// The change record's planned window is now.
    PlannedWindow,
}

impl GateKind {
    pub const ALL: [Self; 6] = [
        Self::PreviousStage,
        Self::Signature,
        Self::Approval,
        Self::ReleaseWindow,
        Self::EnvironmentLock,
        Self::PlannedWindow,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::PreviousStage => "Previous stage succeeded",
            Self::Signature => "Signature verifies",
            Self::Approval => "Change approved",
            Self::ReleaseWindow => "Release window open",
            Self::EnvironmentLock => "Environment free",
            Self::PlannedWindow => "Within the planned window",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum GateVerdict {
    Pass,
    Fail,
    /// Does not apply to this kind of promotion or change, with the reason.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct GateResult {
    pub gate: GateKind,
    pub label: String,
    pub verdict: GateVerdict,
    /// Why, in a sentence: what passed, or what to do about a failure.
    pub reason: String,
}

/// The latest attempt of the artefact in one earlier stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct PreviousStageFact {
    pub environment: Slug,
    /// `Some(true)` succeeded, `Some(false)` failed or rolled back, `None`
    /// never deployed there.
    pub succeeded: Option<bool>,
    pub at: Option<DateTime<Utc>>,
}

/// The open change record that covers this service, environment and artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeFact {
    pub reference: String,
    pub kind: ChangeType,
    pub state: ChangeState,
    /// The digest the change (and its approvals) is bound to.
    pub digest: Digest,
    /// Approvals for this environment are satisfied under its policy.
    pub approved: bool,
    /// The emergency path lets it go ahead and be approved afterwards.
    pub after_the_fact: bool,
    /// "1 of 2 required approvals; missing: change-manager".
    pub approval_summary: String,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
    /// Stages the emergency policy lets this change skip.
    pub skip_stages: Vec<Slug>,
}

/// Another promotion holding the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LockFact {
    #[specta(type = u32)]
    pub promotion: i64,
    pub service: Slug,
    pub version: String,
    pub by: String,
    pub since: DateTime<Utc>,
}

/// The calendar's judgement of running the promotion now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CalendarFact {
    pub conflicts: Vec<Conflict>,
}

/// Everything the gates judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateFacts {
    pub kind: PromotionKind,
    pub service: Slug,
    pub environment: Slug,
    pub version: String,
    pub digest: Digest,
    pub signature: Option<String>,
    pub trusted_keys: Vec<String>,
    /// Earlier stages of the path to live, nearest first; empty for the first.
    pub earlier_stages: Vec<PreviousStageFact>,
    /// `None` when no open change covers this promotion.
    pub change: Option<ChangeFact>,
    pub calendar: CalendarFact,
    /// Held by another promotion, if so.
    pub lock: Option<LockFact>,
    pub now: DateTime<Utc>,
}

fn result(gate: GateKind, verdict: GateVerdict, reason: impl Into<String>) -> GateResult {
    GateResult {
        gate,
        label: gate.label().to_owned(),
        verdict,
        reason: reason.into(),
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %H:%M UTC").to_string()
}

/// Judges every gate, in [`GateKind::ALL`] order.
pub fn evaluate_gates(facts: &GateFacts) -> Vec<GateResult> {
    vec![
        previous_stage(facts),
        signature(facts),
        approval(facts),
        release_window(facts),
        lock(facts),
        planned_window(facts),
    ]
}

/// Whether the promotion may start: no gate failed.
pub fn gates_pass(results: &[GateResult]) -> bool {
    results.iter().all(|r| r.verdict != GateVerdict::Fail)
}

fn previous_stage(f: &GateFacts) -> GateResult {
    use GateVerdict::*;
    let gate = GateKind::PreviousStage;
    match f.kind {
        PromotionKind::Rollback => {
            return result(
                gate,
                Skipped,
                "a rollback returns to a release that was live here before",
            )
        }
        PromotionKind::Drill => {
            return result(
                gate,
                Skipped,
                "a drill moves between releases already deployed here",
            )
        }
        PromotionKind::Promote => {}
    }
    let emergency = f
        .change
        .as_ref()
        .filter(|c| c.kind == ChangeType::Emergency);
    let mut skipped = Vec::new();
    for stage in &f.earlier_stages {
        if let Some(change) = emergency.filter(|c| c.skip_stages.contains(&stage.environment)) {
            skipped.push(format!(
                "{} (emergency change {})",
                stage.environment, change.reference
            ));
            continue;
        }
        let also = if skipped.is_empty() {
            String::new()
        } else {
            format!("; skipped {}", skipped.join(", "))
        };
        return match (stage.succeeded, stage.at) {
            (Some(true), Some(at)) => result(
                gate,
                Pass,
                format!("{} succeeded in {} on {}{also}", f.version, stage.environment, when(at)),
            ),
            (Some(true), None) => result(
                gate,
                Pass,
                format!("{} succeeded in {}{also}", f.version, stage.environment),
            ),
            (Some(false), _) => result(
                gate,
                Fail,
                format!(
                    "{} failed in {} last time it was deployed there: promote it there again and let it pass first",
                    f.version, stage.environment
                ),
            ),
            (None, _) => result(
                gate,
                Fail,
                format!(
                    "{} (sha256 {}) has not been deployed to {}: promote it there first",
                    f.version,
                    short(&f.digest),
                    stage.environment
                ),
            ),
        };
    }
    if skipped.is_empty() {
        result(
            gate,
            Pass,
            format!("{} is the first stage of the path to live", f.environment),
        )
    } else {
        result(
            gate,
            Skipped,
            format!("skipped by the emergency policy: {}", skipped.join(", ")),
        )
    }
}

fn short(d: &Digest) -> String {
    d.hex().chars().take(12).collect()
}

fn signature(f: &GateFacts) -> GateResult {
    let gate = GateKind::Signature;
    match verify_artefact_signature(
        &f.service,
        &f.version,
        &f.digest,
        f.signature.as_deref(),
        &f.trusted_keys,
    ) {
        Ok(by) => result(
            gate,
            GateVerdict::Pass,
            format!("signed by trusted key {}", by.key_id),
        ),
        Err(problem) => result(gate, GateVerdict::Fail, problem.to_string()),
    }
}

fn approval(f: &GateFacts) -> GateResult {
    use GateVerdict::*;
    let gate = GateKind::Approval;
    match f.kind {
        PromotionKind::Rollback => {
            return result(
                gate,
                Skipped,
                "rolling back is every change's approved backout plan",
            )
        }
        PromotionKind::Drill => {
            return result(
                gate,
                Skipped,
                "a drill returns to the current release and needs no change",
            )
        }
        PromotionKind::Promote => {}
    }
    let Some(c) = &f.change else {
        return result(
            gate,
            Fail,
            format!(
                "no open change record covers {} {} in {}: raise one and have it approved",
                f.service, f.version, f.environment
            ),
        );
    };
    if c.digest != f.digest {
        return result(
            gate,
            Fail,
            format!(
                "{} was approved for another artefact (sha256 {}): update it to this one and ask again",
                c.reference,
                short(&c.digest)
            ),
        );
    }
    match c.state {
        ChangeState::Scheduled | ChangeState::Implement if c.approved => result(
            gate,
            Pass,
            format!("{} approved: {}", c.reference, c.approval_summary),
        ),
        ChangeState::Scheduled | ChangeState::Implement
            if c.kind == ChangeType::Emergency && c.after_the_fact =>
        {
            result(
                gate,
                Pass,
                format!(
                    "{} is an emergency change: approval follows in review ({})",
                    c.reference, c.approval_summary
                ),
            )
        }
        ChangeState::Scheduled | ChangeState::Implement => result(
            gate,
            Fail,
            format!(
                "{} is not approved for {}: {}",
                c.reference, f.environment, c.approval_summary
            ),
        ),
        state => result(
            gate,
            Fail,
            format!(
                "{} is in {:?}, not Scheduled: it must be approved and scheduled first ({})",
                c.reference, state, c.approval_summary
            ),
        ),
    }
}

fn release_window(f: &GateFacts) -> GateResult {
    use GateVerdict::*;
    let gate = GateKind::ReleaseWindow;
    if f.kind == PromotionKind::Rollback {
        return result(
            gate,
            Skipped,
            "restoring service is allowed at any time, freezes included",
        );
    }
    let blocking: Vec<&Conflict> = f
        .calendar
        .conflicts
        .iter()
        .filter(|c| {
            matches!(
                c.kind,
                ConflictKind::InFreeze | ConflictKind::OutsideWindows
            )
        })
        .collect();
    if let Some(c) = blocking.iter().find(|c| c.blocks()) {
        let advice = if c.kind == ConflictKind::InFreeze {
            "wait for it to end, or ask a change manager to override it for this change"
        } else {
            "wait for the window or move the change on the calendar"
        };
        return result(gate, Fail, format!("{}: {advice}", c.reason));
    }
    if let Some(o) = blocking
        .iter()
        .find_map(|c| c.overridden.as_ref().map(|o| (c, o)))
    {
        return result(
            gate,
            Pass,
            format!(
                "{} — overridden by {} on {}: {}",
                o.0.with,
                o.1.by,
                when(o.1.at),
                o.1.reason
            ),
        );
    }
    result(gate, Pass, "a release window is open and no freeze applies")
}

fn lock(f: &GateFacts) -> GateResult {
    let gate = GateKind::EnvironmentLock;
    match &f.lock {
        None => result(
            gate,
            GateVerdict::Pass,
            format!("no other promotion is running in {}", f.environment),
        ),
        Some(l) => result(
            gate,
            GateVerdict::Fail,
            format!(
                "promotion #{} ({} {}, by {}, since {}) holds {}: wait for it to finish",
                l.promotion,
                l.service,
                l.version,
                l.by,
                when(l.since),
                f.environment
            ),
        ),
    }
}

fn planned_window(f: &GateFacts) -> GateResult {
    use GateVerdict::*;
    let gate = GateKind::PlannedWindow;
    if f.kind != PromotionKind::Promote {
        return result(
            gate,
            Skipped,
            "rollbacks and drills are not planned changes",
        );
    }
    let Some(c) = &f.change else {
        return result(gate, Fail, "no change record, so no planned window");
    };
    if f.now > c.planned_end {
        result(
            gate,
            Fail,
            format!(
                "{}'s planned window ended on {}: reschedule it (the approvers see the new time)",
                c.reference,
                when(c.planned_end)
            ),
        )
    } else if f.now < c.planned_start {
        result(
            gate,
            Fail,
            format!(
                "{} is planned to start on {}: promote then, or reschedule it",
                c.reference,
                when(c.planned_start)
            ),
        )
    } else {
        result(
            gate,
            Pass,
            format!("{} is planned until {}", c.reference, when(c.planned_end)),
        )
    }
}
