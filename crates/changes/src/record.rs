//! The change record (RFC): what ships, where, when, how to do it and how to
//! undo it, and where it is in its life.

use chrono::{DateTime, Utc};
use release_desk_domain::{optional_text, required_text, Digest, Slug, MAX_TEXT_LEN};
use serde::{Deserialize, Serialize};
use specta::Type;
use std::fmt;

use crate::profile::truncate;
use crate::risk::RiskOverride;
use crate::{ChangeError, ProfileId, Result};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Type,
)]
#[serde(transparent)]
pub struct ChangeId(#[specta(type = u32)] pub i64);

impl fmt::Display for ChangeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHG-{:04}", self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ChangeType {
    /// Pre-approved and routine, created from a template: no approval step.
    Standard,
    /// Assessed and authorised under the environment's policy.
    Normal,
    /// Expedited: the policy names the stages it may skip and the approvals
    /// that may happen after the fact.
    Emergency,
}

impl ChangeType {
    pub const ALL: [Self; 3] = [Self::Standard, Self::Normal, Self::Emergency];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "standard",
            Self::Normal => "normal",
            Self::Emergency => "emergency",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum ChangeState {
    New,
    Assess,
    Authorise,
    Scheduled,
    Implement,
    Review,
    Closed,
    Cancelled,
}

impl ChangeState {
    pub const ALL: [Self; 8] = [
        Self::New,
        Self::Assess,
        Self::Authorise,
        Self::Scheduled,
        Self::Implement,
        Self::Review,
        Self::Closed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Assess => "assess",
            Self::Authorise => "authorise",
            Self::Scheduled => "scheduled",
            Self::Implement => "implement",
            Self::Review => "review",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Self::Closed | Self::Cancelled)
    }

    /// Whether the record's content may still be edited. Once implementation
    /// starts, what was approved is what happened.
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            Self::New | Self::Assess | Self::Authorise | Self::Scheduled
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum CloseOutcome {
    Successful,
    SuccessfulWithIssues,
    Failed,
    RolledBack,
}

impl CloseOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Successful => "successful",
            Self::SuccessfulWithIssues => "successful_with_issues",
            Self::Failed => "failed",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::Successful,
            Self::SuccessfulWithIssues,
            Self::Failed,
            Self::RolledBack,
        ]
        .into_iter()
        .find(|o| o.as_str() == value)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum LinkKind {
    Deployment,
    Commit,
    Ticket,
    Url,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub kind: LinkKind,
    pub value: String,
}

/// The artefact a change ships, named by service and version in a draft and
/// bound to its digest once recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ArtefactRef {
    pub service: Slug,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct BoundArtefact {
    pub service: Slug,
    pub version: String,
    pub digest: Digest,
}

/// What a person fills in to raise or edit a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDraft {
    pub kind: ChangeType,
    /// For standard changes: the template it was created from.
    pub template: Option<String>,
    pub title: String,
    pub description: String,
    pub services: Vec<Slug>,
    pub environments: Vec<Slug>,
    pub artefact: ArtefactRef,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    pub assignee: Option<ProfileId>,
    pub links: Vec<Link>,
    pub rollback_possible: bool,
    pub no_rollback_justification: Option<String>,
    pub schema_migration: bool,
    pub files_changed: Option<u32>,
}

pub const MAX_TITLE_LEN: usize = 200;
/// Longest planned window, soak included: a change that needs longer is
/// several changes. It also keeps every calendar computation bounded.
pub const MAX_PLANNED_DAYS: i64 = 31;

/// A planned window a calendar can hold: it ends after it starts, lasts at
/// most [`MAX_PLANNED_DAYS`], and falls in the years 2000 to 2200.
pub fn check_planned_window(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<()> {
    use chrono::Datelike;
    for (field, t) in [("planned start", start), ("planned end", end)] {
        if !(2000..=2200).contains(&t.year()) {
            return Err(ChangeError::Invalid {
                field,
                reason: format!(
                    "{} is not a date to plan a change for",
                    t.format("%Y-%m-%d")
                ),
            });
        }
    }
    if end <= start {
        return Err(ChangeError::Invalid {
            field: "planned end",
            reason: format!(
                "the planned end ({}) must be after the planned start ({})",
                end.format("%Y-%m-%d %H:%M UTC"),
                start.format("%Y-%m-%d %H:%M UTC")
            ),
        });
    }
    if end - start > chrono::Duration::days(MAX_PLANNED_DAYS) {
        return Err(ChangeError::Invalid {
            field: "planned end",
            reason: format!(
                "a change is planned for at most {MAX_PLANNED_DAYS} days, soak included; split a longer one"
            ),
        });
    }
    Ok(())
}
const MAX_LIST_LEN: usize = 50;

impl ChangeDraft {
    /// Checks each field on its own; rules that depend on the state (plans
    /// needed before assessment) are the transitions' guards.
    pub fn validate(mut self) -> Result<Self> {
        self.title = required_text("title", &self.title)?;
        if self.title.chars().count() > MAX_TITLE_LEN {
            return Err(ChangeError::Invalid {
                field: "title",
                reason: format!("use at most {MAX_TITLE_LEN} characters"),
            });
        }
        self.description =
            optional_text("description", Some(&self.description))?.unwrap_or_default();
        self.implementation_plan =
            optional_text("implementation plan", Some(&self.implementation_plan))?
                .unwrap_or_default();
        self.backout_plan =
            optional_text("backout plan", Some(&self.backout_plan))?.unwrap_or_default();
        self.test_plan = optional_text("test plan", Some(&self.test_plan))?.unwrap_or_default();
        self.no_rollback_justification = optional_text(
            "no-rollback justification",
            self.no_rollback_justification.as_deref(),
        )?;
        self.template = optional_text("template", self.template.as_deref())?;
        dedup(&mut self.services);
        dedup(&mut self.environments);
        if !self.services.contains(&self.artefact.service) {
            self.services.insert(0, self.artefact.service.clone());
        }
        if self.environments.is_empty() {
            return Err(ChangeError::Invalid {
                field: "target environments",
                reason: "choose at least one environment".into(),
            });
        }
        if self.services.len() > MAX_LIST_LEN || self.environments.len() > MAX_LIST_LEN {
            return Err(ChangeError::Invalid {
                field: "services",
                reason: format!(
                    "a change may name at most {MAX_LIST_LEN} services and environments"
                ),
            });
        }
        self.artefact.version = required_text("artefact version", &self.artefact.version)?;
        check_planned_window(self.planned_start, self.planned_end)?;
        if self.links.len() > MAX_LIST_LEN {
            return Err(ChangeError::Invalid {
                field: "links",
                reason: format!("at most {MAX_LIST_LEN} links"),
            });
        }
        for link in &mut self.links {
            link.value = required_text("link", &link.value)?;
            if link.value.len() > MAX_TEXT_LEN / 4 {
                return Err(ChangeError::Invalid {
                    field: "link",
                    reason: format!("'{}…' is too long for a link", truncate(&link.value)),
                });
            }
        }
        match (self.kind, &self.template) {
            (ChangeType::Standard, None) => {
                return Err(ChangeError::Invalid {
                    field: "template",
                    reason: "a standard change is created from a pre-approved template".into(),
                })
            }
            (ChangeType::Standard, Some(key)) if crate::template(key).is_none() => {
                return Err(ChangeError::Invalid {
                    field: "template",
                    reason: format!("there is no standard-change template '{}'", truncate(key)),
                })
            }
            _ => {}
        }
        Ok(self)
    }
}

fn dedup(list: &mut Vec<Slug>) {
    let mut seen = std::collections::HashSet::new();
    list.retain(|s| seen.insert(s.clone()));
}

/// A stored change record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub id: ChangeId,
    /// `CHG-0001`.
    pub reference: String,
    pub kind: ChangeType,
    pub state: ChangeState,
    pub template: Option<String>,
    pub title: String,
    pub description: String,
    pub services: Vec<Slug>,
    pub environments: Vec<Slug>,
    pub artefact: BoundArtefact,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
    pub implementation_plan: String,
    pub backout_plan: String,
    pub test_plan: String,
    pub requester: ProfileId,
    pub requester_name: String,
    pub assignee: Option<ProfileId>,
    pub assignee_name: Option<String>,
    pub links: Vec<Link>,
    pub rollback_possible: bool,
    pub no_rollback_justification: Option<String>,
    pub schema_migration: bool,
    pub files_changed: Option<u32>,
    pub risk_override: Option<RiskOverride>,
    /// When approval was last requested (entering Authorise); expiry counts from here.
    pub approval_requested_at: Option<DateTime<Utc>>,
    pub outcome: Option<CloseOutcome>,
    pub closing_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Bumped by every write; a write naming an older revision is refused, so
    /// two people deciding at once cannot overwrite each other.
    pub revision: u32,
}

impl ChangeRecord {
    /// Whether this profile may not approve: the requester and the person who
    /// will deploy it (the assignee) are separated from approving it.
    pub fn is_party(&self, profile: ProfileId) -> bool {
        self.requester == profile || self.assignee == Some(profile)
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use chrono::TimeZone;

    pub fn slug(s: &str) -> Slug {
        Slug::parse(s).unwrap()
    }

    pub fn digest(byte: u8) -> Digest {
        Digest::parse(&format!("{byte:02x}").repeat(32)).unwrap()
    }

    pub fn draft() -> ChangeDraft {
        ChangeDraft {
            kind: ChangeType::Normal,
            template: None,
            title: "Ship payments-api 2.4.1".into(),
            description: "Fixes refund rounding".into(),
            services: vec![],
            environments: vec![slug("production")],
            artefact: ArtefactRef {
                service: slug("payments-api"),
                version: "2.4.1".into(),
            },
            planned_start: Utc.with_ymd_and_hms(2026, 6, 9, 9, 0, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 6, 9, 10, 0, 0).unwrap(),
            implementation_plan: "Promote through blue-green".into(),
            backout_plan: "Switch traffic back to the previous leg".into(),
            test_plan: "Smoke tests, then 30 minutes soak".into(),
            assignee: Some(ProfileId(3)),
            links: vec![],
            rollback_possible: true,
            no_rollback_justification: None,
            schema_migration: false,
            files_changed: Some(4),
        }
    }

    pub fn record(state: ChangeState) -> ChangeRecord {
        let d = draft().validate().unwrap();
        ChangeRecord {
            id: ChangeId(1),
            reference: "CHG-0001".into(),
            kind: d.kind,
            state,
            template: d.template,
            title: d.title,
            description: d.description,
            services: d.services,
            environments: d.environments,
            artefact: BoundArtefact {
                service: d.artefact.service,
                version: d.artefact.version,
                digest: digest(0xaa),
            },
            planned_start: d.planned_start,
            planned_end: d.planned_end,
            implementation_plan: d.implementation_plan,
            backout_plan: d.backout_plan,
            test_plan: d.test_plan,
            requester: ProfileId(1),
            requester_name: "Priya Shah".into(),
            assignee: d.assignee,
            assignee_name: Some("Dev Patel".into()),
            links: d.links,
            rollback_possible: true,
            no_rollback_justification: None,
            schema_migration: false,
            files_changed: d.files_changed,
            risk_override: None,
            approval_requested_at: (state != ChangeState::New && state != ChangeState::Assess)
                .then(|| Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()),
            outcome: None,
            closing_note: None,
            created_at: Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap(),
            updated_at: Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap(),
            revision: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;

    #[test]
    fn reference_is_zero_padded() {
        assert_eq!(ChangeId(7).to_string(), "CHG-0007");
        assert_eq!(ChangeId(12345).to_string(), "CHG-12345");
    }

    #[test]
    fn the_artefacts_service_is_always_among_the_services() {
        let d = draft().validate().unwrap();
        assert_eq!(d.services, vec![slug("payments-api")]);
    }

    #[test]
    fn refuses_end_before_start_naming_both_times() {
        let mut d = draft();
        d.planned_end = d.planned_start;
        let err = d.validate().unwrap_err().to_string();
        assert!(
            err.contains("planned end") && err.contains("2026-06-09 09:00 UTC"),
            "{err}"
        );
    }

    #[test]
    fn refuses_empty_and_oversized_titles() {
        let mut d = draft();
        d.title = "  ".into();
        assert_eq!(
            d.validate().unwrap_err().to_string(),
            "title must not be empty"
        );
        let mut d = draft();
        d.title = "x".repeat(MAX_TITLE_LEN + 1);
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at most 200"));
        let mut d = draft();
        d.backout_plan = "x".repeat(MAX_TEXT_LEN + 1);
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("backout plan"));
    }

    #[test]
    fn refuses_no_environment() {
        let mut d = draft();
        d.environments.clear();
        assert!(d
            .validate()
            .unwrap_err()
            .to_string()
            .contains("at least one environment"));
    }

    #[test]
    fn a_standard_change_needs_a_known_template() {
        let mut d = draft();
        d.kind = ChangeType::Standard;
        assert!(d
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("pre-approved template"));
        d.template = Some("nonsense".into());
        assert!(d
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("no standard-change template"));
        d.template = Some("dependency-update".into());
        assert!(d.validate().is_ok());
    }

    #[test]
    fn parties_are_the_requester_and_assignee() {
        let r = record(ChangeState::Authorise);
        assert!(r.is_party(ProfileId(1)));
        assert!(r.is_party(ProfileId(3)));
        assert!(!r.is_party(ProfileId(2)));
    }

    #[test]
    fn names_round_trip() {
        for s in ChangeState::ALL {
            assert_eq!(ChangeState::parse(s.as_str()), Some(s));
        }
        for t in ChangeType::ALL {
            assert_eq!(ChangeType::parse(t.as_str()), Some(t));
        }
    }
}
