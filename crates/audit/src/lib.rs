//! The hash chain behind the audit log. Each entry carries the hash of the one
//! before it, over a canonical serialisation of its stored fields, so editing,
//! deleting or reordering any entry breaks the chain at that entry.
//!
//! Canonical serialisation (version 1), hashed with SHA-256:
//! `"release-desk/audit/v1\n"`, then `seq` and `at` (milliseconds since the
//! Unix epoch) as 8-byte big-endian integers, then `actor`, `action`,
//! `subject` and `detail` each as a 4-byte big-endian length followed by its
//! UTF-8 bytes, then the previous entry's 32-byte hash (zeros for the first).
//! Length prefixes make the encoding unambiguous: no two different entries
//! serialise to the same bytes. `detail` is hashed as the exact text stored
//! (JSON written once at append time), never re-serialised, so verification
//! does not depend on a JSON library's key order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use specta::Type;
use std::fmt;
use thiserror::Error;

const DOMAIN: &[u8] = b"release-desk/audit/v1\n";

/// A SHA-256 chain hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The "previous hash" of the first entry.
    pub const GENESIS: Self = Self([0; 32]);

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Self)
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// What a caller appends: who did what to which subject, with details as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    /// What the entry is about, e.g. `change:12` or `profile:3`.
    pub subject: String,
    /// JSON text, stored and hashed exactly as given.
    pub detail: String,
}

/// A sealed entry, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

/// A stored entry as read back, borrowed so a million can be checked without
/// allocating per row.
#[derive(Debug, Clone, Copy)]
pub struct StoredEntry<'a> {
    pub seq: i64,
    pub at_ms: i64,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub detail: &'a str,
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

/// The hash of an entry's fields chained to the previous hash.
pub fn entry_hash(
    seq: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
    prev: &ChainHash,
) -> ChainHash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(seq.to_be_bytes());
    h.update(at_ms.to_be_bytes());
    for field in [actor, action, subject, detail] {
        // Fields are bounded far below 4 GiB by the store (and the SQLite row
        // limit); saturating keeps this total rather than panicking.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(prev.0);
    ChainHash(h.finalize().into())
}

/// Seals a draft onto the chain whose last entry is `head` (`None` when empty).
pub fn seal(head: Option<(i64, ChainHash)>, draft: EntryDraft) -> SealedEntry {
    let (seq, prev_hash) = match head {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, ChainHash::GENESIS),
    };
    let at_ms = draft.at.timestamp_millis();
    let hash = entry_hash(
        seq,
        at_ms,
        &draft.actor,
        &draft.action,
        &draft.subject,
        &draft.detail,
        &prev_hash,
    );
    SealedEntry {
        seq,
        at_ms,
        actor: draft.actor,
        action: draft.action,
        subject: draft.subject,
        detail: draft.detail,
        prev_hash,
        hash,
    }
}

/// Where and how a chain is broken. `seq` is the first entry that fails.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum ChainBreak {
    #[error("audit entry {seq} was edited: its contents no longer match its hash")]
    Edited {
        #[specta(type = u32)]
        seq: i64,
    },
    #[error("audit entry {seq} does not follow the entry before it: an earlier entry was edited, removed or moved")]
    BrokenLink {
        #[specta(type = u32)]
        seq: i64,
    },
    #[error("audit entry {expected} is missing (the next entry is {found}): entries were deleted or reordered")]
    Missing {
        #[specta(type = u32)]
        expected: i64,
        #[specta(type = u32)]
        found: i64,
    },
    #[error("the audit log ends at entry {last} but the recorded head is entry {head}: the newest entries were removed")]
    Truncated {
        #[specta(type = u32)]
        last: i64,
        #[specta(type = u32)]
        head: i64,
    },
    #[error(
        "the audit log's recorded head does not match its last entry {seq}: the log was rewritten"
    )]
    HeadMismatch {
        #[specta(type = u32)]
        seq: i64,
    },
}

impl ChainBreak {
    pub fn first_bad(&self) -> i64 {
        match self {
            Self::Edited { seq } | Self::BrokenLink { seq } | Self::HeadMismatch { seq } => *seq,
            Self::Missing { expected, .. } => *expected,
            Self::Truncated { last, .. } => last + 1,
        }
    }
}

/// The end of a verified chain: what an evidence pack quotes as proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub entries: u64,
    pub last_seq: i64,
    pub hash: ChainHash,
}

/// Checks entries one at a time, in `seq` order, from the first.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: i64,
    prev: ChainHash,
    entries: u64,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self {
            expected_seq: 1,
            prev: ChainHash::GENESIS,
            entries: 0,
        }
    }

    pub fn push(&mut self, e: &StoredEntry<'_>) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq {
            return Err(ChainBreak::Missing {
                expected: self.expected_seq,
                found: e.seq,
            });
        }
        if e.prev_hash != self.prev.0 {
            return Err(ChainBreak::BrokenLink { seq: e.seq });
        }
        let computed = entry_hash(
            e.seq, e.at_ms, e.actor, e.action, e.subject, e.detail, &self.prev,
        );
        if e.hash != computed.0 {
            return Err(ChainBreak::Edited { seq: e.seq });
        }
        self.prev = computed;
        self.expected_seq += 1;
        self.entries += 1;
        Ok(())
    }

    /// How many entries have checked out so far.
    pub fn entries_checked(&self) -> u64 {
        self.entries
    }

    /// Ends verification, checking the chain reaches the head recorded
    /// alongside it (which catches the newest entries being cut off).
    pub fn finish(self, recorded_head: Option<(i64, ChainHash)>) -> Result<ChainHead, ChainBreak> {
        let last = self.expected_seq - 1;
        if recorded_head.is_none() && self.entries > 0 {
            // Entries without a recorded head: the head row was removed,
            // which only happens to hide entries cut off the end.
            return Err(ChainBreak::HeadMismatch { seq: last });
        }
        if let Some((head_seq, head_hash)) = recorded_head {
            if head_seq > last {
                return Err(ChainBreak::Truncated {
                    last,
                    head: head_seq,
                });
            }
            if head_seq != last || head_hash != self.prev {
                return Err(ChainBreak::HeadMismatch { seq: last });
            }
        }
        Ok(ChainHead {
            entries: self.entries,
            last_seq: last,
            hash: self.prev,
        })
    }
}

#[cfg(test)]
mod tests;
