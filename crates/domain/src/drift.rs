//! Drift between neighbouring stages: is this environment behind the one before
//! it (waiting for promotion) or ahead of it (something skipped a stage)?

use chrono::{DateTime, Utc};
use serde::Serialize;
use specta::Type;

use crate::Digest;

/// The version running in one stage, as far as drift is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageVersion {
    pub version: String,
    pub digest: Digest,
    /// When the artefact was built; builds of one service are ordered by it.
    pub built_at: DateTime<Utc>,
}

/// What the stage before this one runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreviousStage<'a> {
    /// This is the first stage of the path to live.
    None,
    /// The previous stage runs nothing.
    Empty,
    Runs(&'a StageVersion),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Drift {
    /// The first stage: nothing to compare with.
    NoPrevious,
    /// Nothing deployed here yet.
    NotDeployed,
    /// Same artefact as the previous stage.
    Level,
    /// The previous stage runs a newer build: `builds` newer builds are waiting.
    Behind { builds: u32 },
    /// This stage runs a build the previous stage does not (or the previous
    /// stage runs nothing): it skipped a stage or the previous stage was
    /// rolled back.
    Ahead,
}

/// Compares a stage with the one before it. `count_newer` is asked, only when
/// this stage is behind, how many builds are newer than this stage's and no
/// newer than the previous stage's.
pub fn drift_between(
    previous: PreviousStage<'_>,
    this: Option<&StageVersion>,
    count_newer: impl FnOnce(&StageVersion, &StageVersion) -> u32,
) -> Drift {
    let Some(this) = this else {
        return Drift::NotDeployed;
    };
    let previous = match previous {
        PreviousStage::None => return Drift::NoPrevious,
        PreviousStage::Empty => return Drift::Ahead,
        PreviousStage::Runs(previous) => previous,
    };
    if previous.digest == this.digest {
        return Drift::Level;
    }
    if (previous.built_at, &previous.version) > (this.built_at, &this.version) {
        Drift::Behind {
            builds: count_newer(this, previous).max(1),
        }
    } else {
        Drift::Ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use PreviousStage::{Empty, None as First, Runs};

    fn v(version: &str, byte: u8, day: i64) -> StageVersion {
        StageVersion {
            version: version.into(),
            digest: Digest::parse(&format!("{byte:02x}").repeat(32)).unwrap(),
            built_at: Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap() + Duration::days(day),
        }
    }

    #[test]
    fn classifies_each_case() {
        let old = v("1.0.0", 1, 0);
        let new = v("1.1.0", 2, 3);
        assert_eq!(drift_between(First, None, |_, _| 0), Drift::NotDeployed);
        assert_eq!(
            drift_between(Runs(&old), None, |_, _| 0),
            Drift::NotDeployed
        );
        assert_eq!(
            drift_between(First, Some(&old), |_, _| 0),
            Drift::NoPrevious
        );
        assert_eq!(
            drift_between(Empty, Some(&old), |_, _| 0),
            Drift::Ahead,
            "skipped an empty stage"
        );
        assert_eq!(
            drift_between(Runs(&old), Some(&old), |_, _| 0),
            Drift::Level
        );
        assert_eq!(
            drift_between(Runs(&new), Some(&old), |_, _| 3),
            Drift::Behind { builds: 3 }
        );
        assert_eq!(
            drift_between(Runs(&old), Some(&new), |_, _| 9),
            Drift::Ahead
        );
    }

    #[test]
    fn behind_is_at_least_one_build() {
        let old = v("1.0.0", 1, 0);
        let new = v("1.1.0", 2, 3);
        assert_eq!(
            drift_between(Runs(&new), Some(&old), |_, _| 0),
            Drift::Behind { builds: 1 }
        );
    }

    #[test]
    fn count_is_asked_only_when_behind() {
        let old = v("1.0.0", 1, 0);
        let new = v("1.1.0", 2, 3);
        drift_between(Runs(&old), Some(&new), |_, _| panic!("not behind"));
        drift_between(Runs(&old), Some(&old), |_, _| panic!("level"));
        drift_between(Empty, Some(&old), |_, _| panic!("nothing to count against"));
    }
}
