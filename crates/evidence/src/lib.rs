//! Evidence packs: everything an auditor or a change advisory board asks about
//! one change record (its content, risk, decisions, history, the artefact
//! digest and the audit chain's proof) as JSON for machines and a
//! self-contained HTML page for people. HTML is built with maud, which escapes
//! every interpolated value, so text typed into a change cannot inject markup.

mod html;

use chrono::{DateTime, Utc};
use release_desk_store::{AuditVerification, ChangeDetail};
use serde::Serialize;
use specta::Type;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum EvidenceError {
    #[error("could not write the evidence pack to {path}: {detail}. Check the folder is writable and the disk has space")]
    Write { path: PathBuf, detail: String },
    #[error("could not serialise the evidence pack: {0}")]
    Serialise(String),
}

pub type Result<T, E = EvidenceError> = std::result::Result<T, E>;

/// One link of the chain that belongs to this change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChainLink {
    #[specta(type = u32)]
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// The chain proof: the whole log verified at export, the head it reached,
/// and this change's links, which anyone can recompute (see `algorithm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ChainProof {
    pub algorithm: String,
    pub verification: AuditVerification,
    pub links: Vec<ChainLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct EvidencePack {
    pub format: String,
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
    pub workspace: String,
    /// What the people named in this pack are: local profiles, not
    /// authenticated identities.
    pub identity: String,
    pub change: ChangeDetail,
    pub chain: ChainProof,
}

/// Where an exported pack was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct ExportedPack {
    pub json: String,
    pub html: String,
    pub chain_intact: bool,
}

pub const ALGORITHM: &str = "SHA-256 over \"release-desk/audit/v1\\n\" || seq (i64 BE) || at_ms (i64 BE) || for actor, action, subject, detail: len (u32 BE) || UTF-8 bytes || prev_hash (32 bytes; zeros for entry 1)";

impl EvidencePack {
    pub fn new(
        change: ChangeDetail,
        verification: AuditVerification,
        workspace: &str,
        generated_by: &str,
        now: DateTime<Utc>,
    ) -> Self {
        let links = change
            .history
            .iter()
            .map(|e| ChainLink {
                seq: e.seq,
                prev_hash: e.prev_hash.clone(),
                hash: e.hash.clone(),
            })
            .collect();
        Self {
            format: "release-desk-evidence/v1".into(),
            generated_at: now,
            generated_by: generated_by.to_owned(),
            workspace: workspace.to_owned(),
            identity: release_desk_changes::LOCAL_PROFILE_NOTE.into(),
            chain: ChainProof {
                algorithm: ALGORITHM.into(),
                verification,
                links,
            },
            change,
        }
    }

    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| EvidenceError::Serialise(e.to_string()))
    }

    pub fn to_html(&self) -> String {
        html::render(self).into_string()
    }

    /// Writes `<reference>-<time>.json` and `.html` into `folder`, each via a
    /// temporary file and a rename so a reader never sees half a pack.
    pub fn write_to(&self, folder: &Path) -> Result<ExportedPack> {
        let stem = format!(
            "{}-evidence-{}",
            self.change.record.reference,
            self.generated_at.format("%Y%m%dT%H%M%SZ")
        );
        let json = folder.join(format!("{stem}.json"));
        let html = folder.join(format!("{stem}.html"));
        std::fs::create_dir_all(folder).map_err(|e| EvidenceError::Write {
            path: folder.to_owned(),
            detail: e.to_string(),
        })?;
        write_atomically(&json, self.to_json()?.as_bytes())?;
        write_atomically(&html, self.to_html().as_bytes())?;
        Ok(ExportedPack {
            json: json.display().to_string(),
            html: html.display().to_string(),
            chain_intact: self.chain.verification.intact,
        })
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let fail = |e: std::io::Error| EvidenceError::Write {
        path: path.to_owned(),
        detail: e.to_string(),
    };
    let tmp = path.with_extension("partial");
    let mut f = std::fs::File::create(&tmp).map_err(fail)?;
    f.write_all(bytes).map_err(fail)?;
    f.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

#[cfg(test)]
mod tests;
