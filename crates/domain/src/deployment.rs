//! Deployments: one artefact into one environment, with who, when and how it ended.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{optional_text, required_text, Artefact, DomainError, Result, Slug};

/// How a deployment ended, or that it has not yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed,
    InProgress,
    RolledBack,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Self::Succeeded,
        Self::Failed,
        Self::InProgress,
        Self::RolledBack,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::InProgress => "in_progress",
            Self::RolledBack => "rolled_back",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == value)
    }

    fn needs_reason(self) -> bool {
        matches!(self, Self::Failed | Self::RolledBack)
    }
}

/// The side of a blue-green pair a deployment went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Leg {
    Blue,
    Green,
}

impl Leg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blue => "blue",
            Self::Green => "green",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "blue" => Some(Self::Blue),
            "green" => Some(Self::Green),
            _ => None,
        }
    }
}

/// What a provider or importer reports about a deployment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentDraft {
    pub service: Slug,
    pub environment: Slug,
    pub version: String,
    pub leg: Option<Leg>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub actor: String,
    pub outcome: Outcome,
    pub failure_reason: Option<String>,
}

/// A validated deployment of a known artefact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    service: Slug,
    environment: Slug,
    version: String,
    leg: Option<Leg>,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    actor: String,
    outcome: Outcome,
    failure_reason: Option<String>,
}

impl Deployment {
    /// Builds a deployment of `artefact`. Requiring the recorded artefact is how
    /// "a deployment references a known artefact" is made impossible to skip.
    pub fn new(draft: DeploymentDraft, artefact: &Artefact) -> Result<Self> {
        if artefact.service() != &draft.service {
            return Err(DomainError::ArtefactServiceMismatch {
                service: draft.service.to_string(),
                artefact_service: artefact.service().to_string(),
            });
        }
        match (draft.outcome, draft.finished_at) {
            (Outcome::InProgress, Some(_)) => return Err(DomainError::InProgressFinished),
            (Outcome::InProgress, None) => {}
            (o, None) => {
                return Err(DomainError::MissingFinish {
                    outcome: o.as_str(),
                })
            }
            (_, Some(finished)) if finished < draft.started_at => {
                return Err(DomainError::FinishedBeforeStarted {
                    started: draft.started_at.to_rfc3339(),
                    finished: finished.to_rfc3339(),
                })
            }
            _ => {}
        }
        let reason = optional_text("failure reason", draft.failure_reason.as_deref())?;
        match (draft.outcome.needs_reason(), &reason) {
            (true, None) => {
                return Err(DomainError::MissingFailureReason {
                    outcome: draft.outcome.as_str(),
                })
            }
            (false, Some(_)) => return Err(DomainError::UnexpectedFailureReason),
            _ => {}
        }
        Ok(Self {
            service: draft.service,
            environment: draft.environment,
            version: artefact.version().to_owned(),
            leg: draft.leg,
            started_at: draft.started_at,
            finished_at: draft.finished_at,
            actor: required_text("actor", &draft.actor)?,
            outcome: draft.outcome,
            failure_reason: reason,
        })
    }

    pub fn service(&self) -> &Slug {
        &self.service
    }
    pub fn environment(&self) -> &Slug {
        &self.environment
    }
    pub fn version(&self) -> &str {
        &self.version
    }
    pub fn leg(&self) -> Option<Leg> {
        self.leg
    }
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }
    pub fn actor(&self) -> &str {
        &self.actor
    }
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }
    pub fn failure_reason(&self) -> Option<&str> {
        self.failure_reason.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artefact::tests::draft as artefact_draft;
    use chrono::Duration;

    fn artefact() -> Artefact {
        Artefact::new(artefact_draft("1.4.0", 7)).unwrap()
    }

    fn draft(outcome: Outcome) -> DeploymentDraft {
        let started = artefact().created_at() + Duration::hours(1);
        DeploymentDraft {
            service: Slug::parse("payments-api").unwrap(),
            environment: Slug::parse("test").unwrap(),
            version: "1.4.0".into(),
            leg: Some(Leg::Green),
            started_at: started,
            finished_at: (outcome != Outcome::InProgress).then(|| started + Duration::minutes(4)),
            actor: "Priya Shah".into(),
            outcome,
            failure_reason: matches!(outcome, Outcome::Failed | Outcome::RolledBack)
                .then(|| "smoke test: GET /health returned 503".into()),
        }
    }

    #[test]
    fn every_outcome_is_constructible_when_consistent() {
        for o in Outcome::ALL {
            let d = Deployment::new(draft(o), &artefact()).unwrap();
            assert_eq!(d.outcome(), o);
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn a_failure_must_say_why() {
        let mut d = draft(Outcome::Failed);
        d.failure_reason = Some("   ".into());
        assert_eq!(
            Deployment::new(d, &artefact()),
            Err(DomainError::MissingFailureReason { outcome: "failed" })
        );
        let mut d = draft(Outcome::Succeeded);
        d.failure_reason = Some("oops".into());
        assert_eq!(
            Deployment::new(d, &artefact()),
            Err(DomainError::UnexpectedFailureReason)
        );
    }

    #[test]
    fn times_must_be_consistent_with_the_outcome() {
        let mut d = draft(Outcome::Succeeded);
        d.finished_at = Some(d.started_at - Duration::seconds(1));
        assert!(matches!(
            Deployment::new(d, &artefact()),
            Err(DomainError::FinishedBeforeStarted { .. })
        ));
        let mut d = draft(Outcome::Succeeded);
        d.finished_at = None;
        assert!(matches!(
            Deployment::new(d, &artefact()),
            Err(DomainError::MissingFinish { .. })
        ));
        let mut d = draft(Outcome::InProgress);
        d.finished_at = Some(d.started_at);
        assert_eq!(
            Deployment::new(d, &artefact()),
            Err(DomainError::InProgressFinished)
        );
    }

    #[test]
    fn the_artefact_must_belong_to_the_service() {
        let mut d = draft(Outcome::Succeeded);
        d.service = Slug::parse("checkout-web").unwrap();
        assert!(matches!(
            Deployment::new(d, &artefact()),
            Err(DomainError::ArtefactServiceMismatch { .. })
        ));
    }

    #[test]
    fn the_version_comes_from_the_artefact_not_the_draft() {
        let mut d = draft(Outcome::Succeeded);
        d.version = "9.9.9".into();
        assert_eq!(Deployment::new(d, &artefact()).unwrap().version(), "1.4.0");
    }
}
