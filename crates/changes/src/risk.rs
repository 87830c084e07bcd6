//! Risk of a change, computed from what it ships and when, and explained flag by
//! flag so the person deciding sees why. A change manager may override the
//! level with a written reason; the computed level is kept beside it.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::ChangeType;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Type,
)]
#[serde(rename_all = "camelCase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

/// What the risk assessment looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskInputs {
    pub kind: ChangeType,
    /// Commits listed on the artefact being shipped.
    pub commits: u32,
    pub files_changed: Option<u32>,
    pub rollback_possible: bool,
    pub schema_migration: bool,
    pub targets_production: bool,
    pub planned_start: DateTime<Utc>,
    pub planned_end: DateTime<Utc>,
}

/// One reason the change is riskier than a routine one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RiskFlag {
    /// Stable code for the UI: `no_rollback`, `schema_with_code`, `large_change`,
    /// `production`, `out_of_hours`, `emergency`.
    pub code: String,
    pub weight: u8,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RiskOverride {
    pub level: RiskLevel,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RiskAssessment {
    pub computed: RiskLevel,
    /// The override if there is one, else the computed level.
    pub level: RiskLevel,
    pub flags: Vec<RiskFlag>,
    pub overridden: Option<RiskOverride>,
}

/// Business hours the out-of-hours flag is judged against: Monday to Friday,
/// 08:00–18:00 in the team's zone. UK public-sector teams are the reference
/// users, hence London as the default zone.
pub const BUSINESS_ZONE: Tz = chrono_tz::Europe::London;
const BUSINESS_START_HOUR: u32 = 8;
const BUSINESS_END_HOUR: u32 = 18;

pub fn assess(inputs: &RiskInputs, override_: Option<RiskOverride>) -> RiskAssessment {
    let mut flags = Vec::new();
    let mut flag = |code: &str, weight: u8, reason: String| {
        flags.push(RiskFlag {
            code: code.into(),
            weight,
            reason,
        })
    };
    if !inputs.rollback_possible {
        flag(
            "no_rollback",
            4,
            "No rollback is possible: High Risk, and the change needs a written justification"
                .into(),
        );
    }
    if inputs.schema_migration {
        flag(
            "schema_with_code",
            2,
            "A database schema migration ships with code: ship the migration separately (expand, then contract) so either can be rolled back alone".into(),
        );
    }
    let files = inputs.files_changed.unwrap_or(0);
    if inputs.commits > 20 || files > 50 {
        flag(
            "large_change",
            2,
            format!(
                "Large change: {} (large is over 20 commits or 50 files)",
                size(inputs)
            ),
        );
    } else if inputs.commits > 5 || files > 15 {
        flag(
            "large_change",
            1,
            format!("Medium-sized change: {}", size(inputs)),
        );
    }
    if inputs.targets_production {
        flag(
            "production",
            1,
            "Targets production: real users see it".into(),
        );
    }
    if let Some(when) = out_of_hours(inputs.planned_start, inputs.planned_end) {
        flag(
            "out_of_hours",
            1,
            format!("Planned out of hours ({when}): fewer people to help if it goes wrong"),
        );
    }
    if inputs.kind == ChangeType::Emergency {
        flag(
            "emergency",
            2,
            "Emergency change: expedited, with less assessment before it ships".into(),
        );
    }
    let score: u32 = flags.iter().map(|f| u32::from(f.weight)).sum();
    let computed = if !inputs.rollback_possible || score >= 4 {
        RiskLevel::High
    } else if score >= 2 {
        RiskLevel::Medium
    } else {
        RiskLevel::Low
    };
    RiskAssessment {
        computed,
        level: override_.as_ref().map_or(computed, |o| o.level),
        flags,
        overridden: override_,
    }
}

/// "6 commits, 9 files changed", leaving out a file count nobody gave.
fn size(inputs: &RiskInputs) -> String {
    let commits = match inputs.commits {
        1 => "1 commit".to_owned(),
        n => format!("{n} commits"),
    };
    match inputs.files_changed {
        Some(f) => format!("{commits}, {f} files changed"),
        None => commits,
    }
}

/// Describes why the planned slot is outside business hours, if it is.
fn out_of_hours(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<String> {
    let local_start = start.with_timezone(&BUSINESS_ZONE);
    let local_end = end.with_timezone(&BUSINESS_ZONE);
    let weekend = |d: Weekday| matches!(d, Weekday::Sat | Weekday::Sun);
    if weekend(local_start.weekday()) {
        return Some(format!("starts on a {}", local_start.format("%A")));
    }
    if local_start.hour() < BUSINESS_START_HOUR || local_start.hour() >= BUSINESS_END_HOUR {
        return Some(format!(
            "starts at {} London time",
            local_start.format("%H:%M")
        ));
    }
    let ends_late = local_end.date_naive() != local_start.date_naive()
        || local_end.hour() > BUSINESS_END_HOUR
        || (local_end.hour() == BUSINESS_END_HOUR && local_end.minute() > 0);
    if ends_late {
        return Some(format!("ends at {} London time", local_end.format("%H:%M")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn inputs() -> RiskInputs {
        RiskInputs {
            kind: ChangeType::Normal,
            commits: 3,
            files_changed: Some(4),
            rollback_possible: true,
            schema_migration: false,
            targets_production: false,
            // Tuesday 10:00–11:00 London (BST, UTC+1).
            planned_start: Utc.with_ymd_and_hms(2026, 6, 9, 9, 0, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 6, 9, 10, 0, 0).unwrap(),
        }
    }

    fn codes(a: &RiskAssessment) -> Vec<&str> {
        a.flags.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn a_small_daytime_change_to_test_is_low() {
        let a = assess(&inputs(), None);
        assert_eq!(a.computed, RiskLevel::Low);
        assert!(a.flags.is_empty());
    }

    #[test]
    fn no_rollback_is_always_high() {
        let a = assess(
            &RiskInputs {
                rollback_possible: false,
                ..inputs()
            },
            None,
        );
        assert_eq!(a.computed, RiskLevel::High);
        assert_eq!(codes(&a), ["no_rollback"]);
    }

    #[test]
    fn schema_with_code_and_production_is_medium_then_high_out_of_hours() {
        let base = RiskInputs {
            schema_migration: true,
            targets_production: true,
            ..inputs()
        };
        let a = assess(&base, None);
        assert_eq!(a.computed, RiskLevel::Medium);
        assert_eq!(codes(&a), ["schema_with_code", "production"]);
        // 19:30 London in summer is 18:30 UTC.
        let late = RiskInputs {
            planned_start: Utc.with_ymd_and_hms(2026, 6, 9, 18, 30, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 6, 9, 19, 30, 0).unwrap(),
            ..base
        };
        let a = assess(&late, None);
        assert_eq!(a.computed, RiskLevel::High);
        assert!(
            a.flags[2].reason.contains("19:30 London time"),
            "{:?}",
            a.flags
        );
    }

    #[test]
    fn london_time_is_used_across_daylight_saving() {
        // 08:30 UTC on a January Monday is 08:30 London (GMT): in hours.
        let winter = RiskInputs {
            planned_start: Utc.with_ymd_and_hms(2026, 1, 12, 8, 30, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 1, 12, 9, 0, 0).unwrap(),
            ..inputs()
        };
        assert!(assess(&winter, None).flags.is_empty());
        // 07:30 UTC on a July Monday is 08:30 London (BST): in hours too.
        let summer = RiskInputs {
            planned_start: Utc.with_ymd_and_hms(2026, 7, 13, 7, 30, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 7, 13, 8, 0, 0).unwrap(),
            ..inputs()
        };
        assert!(assess(&summer, None).flags.is_empty());
        // 07:30 UTC in January is 07:30 London: out of hours.
        let early = RiskInputs {
            planned_start: Utc.with_ymd_and_hms(2026, 1, 12, 7, 30, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 1, 12, 8, 0, 0).unwrap(),
            ..inputs()
        };
        assert_eq!(codes(&assess(&early, None)), ["out_of_hours"]);
    }

    #[test]
    fn weekends_and_overnight_are_out_of_hours() {
        let saturday = RiskInputs {
            planned_start: Utc.with_ymd_and_hms(2026, 6, 13, 10, 0, 0).unwrap(),
            planned_end: Utc.with_ymd_and_hms(2026, 6, 13, 11, 0, 0).unwrap(),
            ..inputs()
        };
        assert!(assess(&saturday, None).flags[0].reason.contains("Saturday"));
        let overnight = RiskInputs {
            planned_end: Utc.with_ymd_and_hms(2026, 6, 10, 1, 0, 0).unwrap(),
            ..inputs()
        };
        assert_eq!(codes(&assess(&overnight, None)), ["out_of_hours"]);
    }

    #[test]
    fn size_thresholds() {
        let medium = RiskInputs {
            commits: 6,
            files_changed: None,
            ..inputs()
        };
        let a = assess(&medium, None);
        assert_eq!(a.flags[0].weight, 1);
        assert_eq!(a.flags[0].reason, "Medium-sized change: 6 commits");
        let large = RiskInputs {
            files_changed: Some(51),
            ..inputs()
        };
        let a = assess(&large, None);
        assert_eq!((a.flags[0].weight, a.computed), (2, RiskLevel::Medium));
    }

    #[test]
    fn an_override_changes_the_level_but_keeps_the_computed_one() {
        let a = assess(
            &RiskInputs {
                kind: ChangeType::Emergency,
                targets_production: true,
                schema_migration: true,
                ..inputs()
            },
            Some(RiskOverride {
                level: RiskLevel::Medium,
                reason: "migration is additive only".into(),
                by: "Sam Okafor".into(),
                at: Utc.with_ymd_and_hms(2026, 6, 9, 9, 0, 0).unwrap(),
            }),
        );
        assert_eq!((a.computed, a.level), (RiskLevel::High, RiskLevel::Medium));
    }
}
