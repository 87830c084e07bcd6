//! The record of every keyed action's outcome, so that a repeated call with
//! the same [`ActionKey`] returns the first result instead of acting twice.

use std::path::{Path, PathBuf};

use release_desk_provider::{ActionKey, ProviderError, StepReport};
use serde::{Deserialize, Serialize};

use crate::error::{refused, Result};
use crate::state::{read_json, write_json, Stored};

/// What happened under one key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActionRecord {
    /// What the key was used for, e.g. "deploy demo-web/prod green sha256:…",
    /// so a key reused for something else is caught.
    action: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Outcome {
    Done(StepReport),
    Failed(ProviderError),
}

/// Where records are kept: `<root>/actions/`.
#[derive(Debug, Clone)]
pub(crate) struct ActionBook {
    dir: PathBuf,
}

impl ActionBook {
    pub(crate) fn new(root: &Path) -> Self {
        Self {
            dir: root.join("actions"),
        }
    }

    fn path(&self, key: &ActionKey) -> PathBuf {
        // Keys hold only [A-Za-z0-9._/-] and never "..", so replacing '/' with
        // '~' (not allowed in keys) is a one-to-one file name.
        self.dir
            .join(format!("{}.json", key.as_str().replace('/', "~")))
    }

    /// The earlier result under `key`, marked replayed; `None` when the key
    /// is new. A key recorded for a different action is refused.
    pub(crate) fn replay(&self, key: &ActionKey, action: &str) -> Option<Result<StepReport>> {
        match read_json::<ActionRecord>(&self.path(key)) {
            Stored::Missing => None,
            Stored::Unreadable(why) => Some(Err(refused(format!(
                "the record of action {key} cannot be read ({why}): check the target's state \
                 before repeating it"
            )))),
            Stored::Found(record) if record.action != action => Some(Err(refused(format!(
                "action key {key} was already used for \"{}\", not \"{action}\": a key names one action",
                record.action
            )))),
            Stored::Found(record) => Some(match record.outcome {
                Outcome::Done(mut report) => {
                    report.replayed = true;
                    Ok(report)
                }
                Outcome::Failed(error) => Err(error),
            }),
        }
    }

    /// Records the outcome of a completed action. A failure to record is
    /// logged, not returned: the action itself already happened.
    pub(crate) fn record(&self, key: &ActionKey, action: &str, outcome: &Result<StepReport>) {
        let record = ActionRecord {
            action: action.to_owned(),
            outcome: match outcome {
                Ok(report) => Outcome::Done(report.clone()),
                Err(error) => Outcome::Failed(error.clone()),
            },
        };
        if let Err(e) = write_json(&self.path(key), &record) {
            tracing::error!(key = %key, "could not record the action's outcome: {}", e.message);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_desk_provider::ProviderErrorKind;

    #[test]
    fn a_recorded_result_replays_and_a_failure_replays_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let book = ActionBook::new(dir.path());
        let key = ActionKey::new("promotion-1/deploy/1").unwrap();
        assert!(book.replay(&key, "deploy x").is_none());
        let report = StepReport {
            summary: "deployed".into(),
            log: vec![],
            replayed: false,
        };
        book.record(&key, "deploy x", &Ok(report));
        assert!(book.replay(&key, "deploy x").unwrap().unwrap().replayed);
        assert!(dir
            .path()
            .join("actions/promotion-1~deploy~1.json")
            .is_file());

        let failed = ActionKey::new("promotion-1/switch/1").unwrap();
        book.record(&failed, "switch x", &Err(refused("no")));
        let err = book.replay(&failed, "switch x").unwrap().unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (ProviderErrorKind::Refused, "no")
        );
    }

    #[test]
    fn a_key_reused_for_another_action_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let book = ActionBook::new(dir.path());
        let key = ActionKey::new("k").unwrap();
        book.record(&key, "deploy a", &Err(refused("no")));
        let err = book.replay(&key, "switch b").unwrap().unwrap_err();
        assert!(err.message.contains("already used"), "{}", err.message);
    }
}
