//! Artefacts: one immutable build of a service, identified by its digest.
//!
//! The same version string must always mean the same bytes. Once an artefact is
//! recorded its digest never changes: there is no setter, and the store refuses
//! an update of the column as well.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use specta::Type;

use crate::{optional_text, required_text, Digest, DomainError, Result, Slug};

/// What a pipeline or importer offers to record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ArtefactDraft {
    pub service: Slug,
    pub name: String,
    pub version: String,
    pub digest: String,
    pub source_commit: String,
    pub build_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub signature: Option<String>,
    /// Commits this build adds since the previous build of the service.
    #[serde(default)]
    pub commits: Vec<Commit>,
}

/// A commit listed on an artefact: what a person deciding reads to know what ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub sha: String,
    pub summary: String,
    pub author: String,
}

/// More commits than this on one build is an import mistake, not a release.
pub const MAX_COMMITS: usize = 1_000;

/// A validated artefact. Fields are private so a recorded digest cannot be edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Artefact {
    service: Slug,
    name: String,
    version: String,
    digest: Digest,
    source_commit: String,
    build_url: Option<String>,
    created_at: DateTime<Utc>,
    signature: Option<String>,
    commits: Vec<Commit>,
}

fn check_commit(value: &str) -> Result<String> {
    let commit = value.trim();
    if !(7..=40).contains(&commit.len()) || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DomainError::InvalidCommit {
            value: commit.chars().take(80).collect(),
        });
    }
    Ok(commit.to_ascii_lowercase())
}

impl Artefact {
    pub fn new(draft: ArtefactDraft) -> Result<Self> {
        if draft.commits.len() > MAX_COMMITS {
            return Err(DomainError::FieldTooLong {
                field: "commit list",
                max: MAX_COMMITS,
            });
        }
        let commits = draft
            .commits
            .into_iter()
            .map(|c| {
                Ok(Commit {
                    sha: check_commit(&c.sha)?,
                    // Only the first line: the summary, as `git log --oneline` shows.
                    summary: required_text(
                        "commit summary",
                        c.summary.lines().next().unwrap_or(""),
                    )?,
                    author: required_text("commit author", &c.author)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            service: draft.service,
            name: required_text("artefact name", &draft.name)?,
            version: required_text("version", &draft.version)?,
            digest: Digest::parse(&draft.digest)?,
            source_commit: check_commit(&draft.source_commit)?,
            build_url: optional_text("build URL", draft.build_url.as_deref())?,
            created_at: draft.created_at,
            signature: optional_text("signature", draft.signature.as_deref())?,
            commits,
        })
    }

    pub fn service(&self) -> &Slug {
        &self.service
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn version(&self) -> &str {
        &self.version
    }
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    pub fn source_commit(&self) -> &str {
        &self.source_commit
    }
    pub fn build_url(&self) -> Option<&str> {
        self.build_url.as_deref()
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn signature(&self) -> Option<&str> {
        self.signature.as_deref()
    }
    pub fn commits(&self) -> &[Commit] {
        &self.commits
    }
}

/// What recording an artefact means, given what is already recorded for the
/// same service and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Nothing recorded under this version yet: record it.
    New,
    /// The same bytes were already recorded: nothing to do.
    AlreadyRecorded,
}

/// Decides whether `offered` may be recorded next to `recorded` (the artefact
/// already stored for the same service and version, if any). The same version
/// with a different digest is a conflicting artefact and is refused.
pub fn check_registration(recorded: Option<&Artefact>, offered: &Artefact) -> Result<Registration> {
    match recorded {
        None => Ok(Registration::New),
        Some(r) if r.digest == offered.digest => Ok(Registration::AlreadyRecorded),
        Some(r) => Err(DomainError::ConflictingArtefact {
            service: r.service.to_string(),
            version: r.version.clone(),
            recorded: r.digest.to_string(),
            offered: offered.digest.to_string(),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    pub(crate) fn draft(version: &str, digest_byte: u8) -> ArtefactDraft {
        ArtefactDraft {
            service: Slug::parse("payments-api").unwrap(),
            name: "payments-api".into(),
            version: version.into(),
            digest: format!("{:02x}", digest_byte).repeat(32),
            source_commit: "a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0".into(),
            build_url: Some("https://ci.example/builds/1".into()),
            created_at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
            signature: None,
            commits: vec![Commit {
                sha: "a1b2c3d".into(),
                summary: "Round refunds half-even\n\nLong body".into(),
                author: "Dev Patel".into(),
            }],
        }
    }

    #[test]
    fn keeps_the_first_line_of_commit_messages_and_checks_their_ids() {
        let a = Artefact::new(draft("1.0.0", 1)).unwrap();
        assert_eq!(a.commits()[0].summary, "Round refunds half-even");
        let mut d = draft("1.0.0", 1);
        d.commits[0].sha = "not-a-sha".into();
        assert!(matches!(
            Artefact::new(d),
            Err(DomainError::InvalidCommit { .. })
        ));
    }

    #[test]
    fn validates_every_field() {
        assert!(Artefact::new(draft("1.0.0", 1)).is_ok());
        let mut d = draft("1.0.0", 1);
        d.digest = "nope".into();
        assert!(matches!(
            Artefact::new(d),
            Err(DomainError::InvalidDigest { .. })
        ));
        let mut d = draft(" ", 1);
        d.version = "  ".into();
        assert_eq!(
            Artefact::new(d),
            Err(DomainError::EmptyField { field: "version" })
        );
        let mut d = draft("1.0.0", 1);
        d.source_commit = "xyz".into();
        assert!(matches!(
            Artefact::new(d),
            Err(DomainError::InvalidCommit { .. })
        ));
    }

    #[test]
    fn same_version_and_digest_is_already_recorded() {
        let a = Artefact::new(draft("1.0.0", 1)).unwrap();
        assert_eq!(
            check_registration(Some(&a), &a.clone()),
            Ok(Registration::AlreadyRecorded)
        );
        assert_eq!(check_registration(None, &a), Ok(Registration::New));
    }

    #[test]
    fn same_version_with_another_digest_is_a_conflict_that_names_both() {
        let a = Artefact::new(draft("1.0.0", 1)).unwrap();
        let b = Artefact::new(draft("1.0.0", 2)).unwrap();
        let err = check_registration(Some(&a), &b).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("1.0.0")
                && text.contains(&a.digest().to_string())
                && text.contains(&b.digest().to_string())
        );
    }

    proptest! {
        #[test]
        fn registration_conflicts_exactly_when_digests_differ(x in any::<u8>(), y in any::<u8>()) {
            let a = Artefact::new(draft("2.1.0", x)).unwrap();
            let b = Artefact::new(draft("2.1.0", y)).unwrap();
            let result = check_registration(Some(&a), &b);
            prop_assert_eq!(result.is_err(), x != y);
        }
    }
}
