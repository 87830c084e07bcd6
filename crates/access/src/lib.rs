//! Who may do what, decided in one place.
//!
//! Every power the app gives a person is one [`Action`] (workspace-wide) or
//! one [`ChangeAction`] (on one change record), and each has exactly one
//! decision here. The store calls these before it writes, so a command that
//! forgot to check is still refused; the shell returns [`allowed`] and
//! [`allowed_on_change`] so the UI shows only what the store will accept and
//! never decides anything itself.
//!
//! Two kinds of rule live elsewhere on purpose, because they depend on data
//! a workspace configures rather than on a person's role:
//! - who may approve or reject a change is the change's approval policy
//!   (`release_desk_changes::check_decision`, with separation of duties);
//! - whether a build may enter an environment is the promotion gates.
//!
//! Roles are [`KnownRole`]s, never strings, so a misspelt role cannot grant
//! or withhold a power.

use release_desk_changes::{ChangeError, ChangeRecord, KnownRole, Profile, ProfileId, Result};
use serde::Serialize;
use specta::Type;

/// A power over the whole workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Raise a change record (its approvals guard what happens next).
    RaiseChanges,
    /// Add release windows and freezes, edit windows, import a calendar.
    KeepCalendar,
    /// Edit, move, turn into a window or delete an existing freeze.
    ChangeFreezes,
    /// Start a promotion or a rollback.
    Promote,
    /// Change the order of the path to live.
    ReorderPath,
    /// Trust or distrust artefact signing keys.
    ManageTrustedKeys,
    /// Bind a service in an environment to a deployment target.
    BindTargets,
    /// Record where an artefact's package is.
    RecordArtefactLocations,
    /// Store or remove a provider credential in the OS keyring.
    ManageCredentials,
    /// Add or remove connections to providers, and their secrets.
    ManageConnections,
}

impl Action {
    pub const ALL: [Action; 10] = [
        Self::RaiseChanges,
        Self::KeepCalendar,
        Self::ChangeFreezes,
        Self::Promote,
        Self::ReorderPath,
        Self::ManageTrustedKeys,
        Self::BindTargets,
        Self::RecordArtefactLocations,
        Self::ManageCredentials,
        Self::ManageConnections,
    ];

    /// The action as a refusal names it: "only a release manager may …".
    pub fn describe(self) -> &'static str {
        match self {
            Self::RaiseChanges => "raise changes",
            Self::KeepCalendar => "keep the release calendar",
            Self::ChangeFreezes => "change or remove an existing freeze",
            Self::Promote => "promote or roll back",
            Self::ReorderPath => "reorder the path to live",
            Self::ManageTrustedKeys => "add or remove trusted signing keys",
            Self::BindTargets => "bind deployment targets",
            Self::RecordArtefactLocations => "record where artefacts are",
            Self::ManageCredentials => "set or remove provider credentials",
            Self::ManageConnections => "add or remove connections to providers",
        }
    }
}

/// Whether `by` may take a workspace-wide action; a refusal names the rule,
/// who asked and the roles they hold.
pub fn may(by: &Profile, action: Action) -> Result<()> {
    match action {
        // Anyone at the desk may propose a change: the approval policy, not
        // the proposer's role, decides whether it goes ahead.
        Action::RaiseChanges => Ok(()),
        Action::KeepCalendar => {
            if by.holds(KnownRole::ReleaseManager) || by.holds(KnownRole::ChangeManager) {
                Ok(())
            } else {
                Err(refuse(
                    "calendar_role",
                    format!(
                        "only a release manager or a change manager may {}; {} holds {}",
                        action.describe(),
                        by.name,
                        by.roles_text()
                    ),
                ))
            }
        }
        // Anyone who keeps the calendar may add a freeze; narrowing, moving
        // or removing one is for those who may override one, or the
        // override rule would be a formality.
        Action::ChangeFreezes => {
            if by.holds(KnownRole::ChangeManager) {
                Ok(())
            } else {
                Err(refuse(
                    "freeze_role",
                    format!(
                        "only a change manager may {} (anyone who keeps the calendar can add one); {} holds {}",
                        action.describe(),
                        by.name,
                        by.roles_text()
                    ),
                ))
            }
        }
        Action::Promote
        | Action::ReorderPath
        | Action::ManageTrustedKeys
        | Action::BindTargets
        | Action::RecordArtefactLocations
        | Action::ManageCredentials
        | Action::ManageConnections => {
            if by.holds(KnownRole::ReleaseManager) {
                Ok(())
            } else {
                Err(refuse(
                    "not_release_manager",
                    format!(
                        "only a release manager may {}; {} holds {}",
                        action.describe(),
                        by.name,
                        by.roles_text()
                    ),
                ))
            }
        }
    }
}

/// The workspace-wide actions `by` may take, for the UI to offer.
pub fn allowed(by: &Profile) -> Vec<Action> {
    Action::ALL
        .into_iter()
        .filter(|a| may(by, *a).is_ok())
        .collect()
}

/// A power over one change record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// Move it through its lifecycle (submit, request approval, start…).
    Move,
    /// Edit what it plans.
    Edit,
    /// Move its planned window.
    Reschedule,
    /// Set its risk level by hand, with a reason.
    OverrideRisk,
    /// Let it go ahead inside a freeze, with a reason.
    OverrideFreeze,
}

impl ChangeAction {
    pub const ALL: [ChangeAction; 5] = [
        Self::Move,
        Self::Edit,
        Self::Reschedule,
        Self::OverrideRisk,
        Self::OverrideFreeze,
    ];

    fn verb(self) -> &'static str {
        match self {
            Self::Move => "move",
            Self::Edit => "edit",
            Self::Reschedule => "reschedule",
            Self::OverrideRisk => "override the risk level of",
            Self::OverrideFreeze => "let into a freeze",
        }
    }
}

/// Who a change record involves: what the per-change decisions need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// `CHG-0001`, for messages.
    pub reference: String,
    pub requester: ProfileId,
    pub assignee: Option<ProfileId>,
}

impl Parties {
    fn includes(&self, who: ProfileId) -> bool {
        self.requester == who || self.assignee == Some(who)
    }
}

impl From<&ChangeRecord> for Parties {
    fn from(record: &ChangeRecord) -> Self {
        Self {
            reference: record.reference.clone(),
            requester: record.requester,
            assignee: record.assignee,
        }
    }
}

/// Whether `by` may take an action on one change. Only who may act is
/// decided here; whether the change's state allows the action (a started
/// change cannot be edited) is the lifecycle's rule.
pub fn may_on_change(by: &Profile, change: &Parties, action: ChangeAction) -> Result<()> {
    let party = change.includes(by.id);
    match action {
        // The requester, the assignee, or anyone who runs the change process.
        ChangeAction::Move | ChangeAction::Edit | ChangeAction::Reschedule => {
            if party || by.holds(KnownRole::ChangeManager) || by.holds(KnownRole::ReleaseManager) {
                Ok(())
            } else {
                Err(refuse(
                    "transition_actor",
                    format!(
                        "only the requester, the assignee, a change manager or a release manager can {} {}",
                        action.verb(),
                        change.reference
                    ),
                ))
            }
        }
        // A check on the change process: a change manager, never on a change
        // they raised or will deploy.
        ChangeAction::OverrideRisk => {
            if by.holds(KnownRole::ChangeManager) && !party {
                Ok(())
            } else {
                Err(refuse(
                    "risk_override",
                    format!(
                        "only a change manager who is not the requester or assignee can override the risk level of {}",
                        change.reference
                    ),
                ))
            }
        }
        ChangeAction::OverrideFreeze => {
            if !by.holds(KnownRole::ChangeManager) {
                Err(refuse(
                    "freeze_override_role",
                    format!(
                        "only a change manager can let a change go ahead in a freeze; {} holds {}",
                        by.name,
                        by.roles_text()
                    ),
                ))
            } else if party {
                Err(refuse(
                    "separation_of_duties",
                    format!(
                        "Separation of duties: you are a party to {}, so someone else must lift the freeze for it",
                        change.reference
                    ),
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// The actions `by` may take on one change, for the UI to offer.
pub fn allowed_on_change(by: &Profile, change: &Parties) -> Vec<ChangeAction> {
    ChangeAction::ALL
        .into_iter()
        .filter(|a| may_on_change(by, change, *a).is_ok())
        .collect()
}

/// Separation of duties reaches the promotion: whoever approved a change
/// does not also put it live. `approved` says whether `by` approved the
/// change the promotion implements (`change` names it).
pub fn may_put_live(by: &Profile, change: &str, approved: bool) -> Result<()> {
    if approved {
        Err(refuse(
            "separation_of_duties",
            format!(
                "Separation of duties: {} approved {change}, so someone else must promote it",
                by.name
            ),
        ))
    } else {
        Ok(())
    }
}

fn refuse(rule: &'static str, message: String) -> ChangeError {
    ChangeError::Refused { rule, message }
}

#[cfg(test)]
mod tests;
