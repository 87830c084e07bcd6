//! The entries of the benchmark's audit chain: change records going through
//! their whole life (raised, risk overridden, approved twice, implemented,
//! closed), with the actions, subjects and JSON details the store itself
//! writes, so the bytes hashed per entry are what a real log holds.
//!
//! Each entry is a pure function of its position, so every run of the
//! benchmark builds the same chain and a test can check any part of it.

use chrono::{DateTime, Utc};
use release_desk_audit::EntryDraft;

/// Entries written per change record, one per step of [`draft`].
pub const ENTRIES_PER_CHANGE: u64 = 10;

/// 2026-01-01T00:00:00Z: the first entry's time.
const FIRST_AT_MS: i64 = 1_767_225_600_000;
/// Time between entries: a million entries span about a year.
const STEP_MS: i64 = 31_000;

const ACTORS: [&str; 8] = [
    "Priya Raman",
    "Tom Okafor",
    "Ana Souza",
    "Lukas Becker",
    "Mei Tanaka",
    "Grace Mensah",
    "Omar Haddad",
    "Sofia Rossi",
];

const SERVICES: [&str; 6] = [
    "payments-api",
    "ledger",
    "identity",
    "notifications",
    "search",
    "web-frontend",
];

const KINDS: [&str; 3] = ["normal", "standard", "emergency"];
const LEVELS: [&str; 3] = ["low", "medium", "high"];
const ROLES: [&str; 3] = ["release-manager", "service-owner", "security"];
const OUTCOMES: [&str; 2] = ["successful", "successful_with_issues"];

/// The draft at 0-based `index` in the chain (sealed as `seq = index + 1`).
pub fn draft(index: u64) -> EntryDraft {
    let change = index / ENTRIES_PER_CHANGE + 1;
    let step = index % ENTRIES_PER_CHANGE;
    let service = pick(&SERVICES, change);
    let version = format!("2026.{}.{}", change % 12 + 1, change % 97);
    let digest = digest(change);
    let (action, detail) = match step {
        0 => (
            "change.raised",
            format!(
                r#"{{"artefact":"{service} {version}","digest":"{digest}","environments":["staging","production"],"kind":"{kind}","reference":"CHG-{change:06}","title":"Roll out {service} {version}"}}"#,
                kind = pick(&KINDS, change),
            ),
        ),
        1 => ("change.transition", transition("new", "submit", "assess")),
        2 => (
            "change.risk_overridden",
            format!(
                r#"{{"computed":"{computed}","level":"{level}","reason":"Touches {service} only; canary in staging for an hour first"}}"#,
                computed = pick(&LEVELS, change),
                level = pick(&LEVELS, change + 1),
            ),
        ),
        3 => (
            "change.transition",
            transition("assess", "request_approval", "authorise"),
        ),
        4 | 5 => (
            "change.decision",
            format!(
                r#"{{"comment":"Checked the test evidence and the backout plan for {service}.","digest":"{digest}","roles":["{role}"],"verdict":"approve"}}"#,
                role = pick(&ROLES, change + step),
            ),
        ),
        6 => (
            "change.transition",
            transition("authorise", "schedule", "scheduled"),
        ),
        7 => (
            "change.transition",
            transition("scheduled", "start", "implement"),
        ),
        8 => (
            "change.transition",
            format!(
                r#"{{"from":"implement","note":"Deployed to production; error rate and latency unchanged after 30 minutes.","outcome":"{outcome}","step":"complete","to":"review"}}"#,
                outcome = pick(&OUTCOMES, change),
            ),
        ),
        _ => ("change.transition", transition("review", "close", "closed")),
    };
    EntryDraft {
        at: at(index),
        actor: pick(&ACTORS, index.wrapping_mul(7).wrapping_add(change)).to_owned(),
        action: action.to_owned(),
        subject: format!("change:{change}"),
        detail,
    }
}

fn transition(from: &str, step: &str, to: &str) -> String {
    format!(r#"{{"from":"{from}","step":"{step}","to":"{to}"}}"#)
}

fn at(index: u64) -> DateTime<Utc> {
    let offset = i64::try_from(index)
        .unwrap_or(i64::MAX / STEP_MS)
        .saturating_mul(STEP_MS);
    // In range for any u32 index (about 4,000 years after 2026); the epoch is
    // only a total fallback, never reached by the benchmark.
    DateTime::from_timestamp_millis(FIRST_AT_MS.saturating_add(offset))
        .unwrap_or(DateTime::UNIX_EPOCH)
}

fn pick<'a>(choices: &[&'a str], key: u64) -> &'a str {
    // The arrays above are non-empty constants, so the modulus is never zero.
    choices[(mix(key) % choices.len() as u64) as usize]
}

/// An artefact digest as the store shows it: `sha256:` and 64 hex digits.
fn digest(change: u64) -> String {
    let mut text = String::with_capacity(71);
    text.push_str("sha256:");
    for part in 0..4 {
        text.push_str(&format!(
            "{:016x}",
            mix(change.wrapping_mul(4).wrapping_add(part))
        ));
    }
    text
}

/// SplitMix64's finaliser: spreads consecutive keys over all 64 bits.
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use release_desk_audit::{seal, StoredEntry, Verifier};

    #[test]
    fn the_same_index_gives_the_same_entry() {
        assert_eq!(draft(12_345), draft(12_345));
        assert_ne!(draft(12_345), draft(12_346));
    }

    #[test]
    fn every_detail_is_json_and_a_change_runs_its_whole_life() {
        let actions: Vec<String> = (0..ENTRIES_PER_CHANGE)
            .map(|i| {
                let d = draft(i);
                assert_eq!(d.subject, "change:1");
                let parsed: serde_json::Value =
                    serde_json::from_str(&d.detail).expect("detail is JSON");
                assert!(parsed.is_object(), "{}", d.detail);
                d.action
            })
            .collect();
        assert_eq!(actions.first().map(String::as_str), Some("change.raised"));
        assert_eq!(
            actions.iter().filter(|a| *a == "change.decision").count(),
            2
        );
        assert_eq!(draft(ENTRIES_PER_CHANGE).subject, "change:2");
    }

    #[test]
    fn details_average_between_100_and_200_bytes() {
        let n = 10 * ENTRIES_PER_CHANGE;
        let total: usize = (0..n).map(|i| draft(i).detail.len()).sum();
        let average = total as f64 / n as f64;
        assert!((100.0..=200.0).contains(&average), "average {average}");
    }

    #[test]
    fn entries_are_in_time_order() {
        assert!(draft(0).at < draft(1).at);
        assert_eq!(draft(0).at.timestamp_millis(), FIRST_AT_MS);
    }

    #[test]
    fn sealed_drafts_form_a_chain_the_verifier_accepts() {
        let mut head = None;
        let mut verifier = Verifier::new();
        for i in 0..500 {
            let e = seal(head, draft(i));
            head = Some((e.seq, e.hash));
            verifier
                .push(&StoredEntry {
                    seq: e.seq,
                    at_ms: e.at_ms,
                    actor: &e.actor,
                    action: &e.action,
                    subject: &e.subject,
                    detail: &e.detail,
                    prev_hash: &e.prev_hash.0,
                    hash: &e.hash.0,
                })
                .expect("a freshly sealed chain is intact");
        }
        assert_eq!(verifier.finish(head).expect("head matches").entries, 500);
    }
}
