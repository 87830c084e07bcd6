//! Tampering of every kind is found, at the right entry.

use super::*;
use chrono::TimeZone;
use proptest::prelude::*;

fn chain(n: usize) -> Vec<SealedEntry> {
    let mut out: Vec<SealedEntry> = Vec::new();
    for i in 0..n {
        let head = out.last().map(|e| (e.seq, e.hash));
        out.push(seal(
            head,
            EntryDraft {
                at: Utc
                    .timestamp_millis_opt(1_780_000_000_000 + i as i64 * 1000)
                    .unwrap(),
                actor: format!("person {}", i % 3),
                action: "change.transition".into(),
                subject: format!("change:{}", i % 5),
                detail: format!("{{\"step\":{i}}}"),
            },
        ));
    }
    out
}

fn stored(e: &SealedEntry) -> StoredEntry<'_> {
    StoredEntry {
        seq: e.seq,
        at_ms: e.at_ms,
        actor: &e.actor,
        action: &e.action,
        subject: &e.subject,
        detail: &e.detail,
        prev_hash: &e.prev_hash.0,
        hash: &e.hash.0,
    }
}

fn verify(
    entries: &[SealedEntry],
    head: Option<(i64, ChainHash)>,
) -> Result<ChainHead, ChainBreak> {
    let mut v = Verifier::new();
    for e in entries {
        v.push(&stored(e))?;
    }
    v.finish(head)
}

fn head_of(entries: &[SealedEntry]) -> Option<(i64, ChainHash)> {
    entries.last().map(|e| (e.seq, e.hash))
}

#[test]
fn an_intact_chain_verifies_to_its_head() {
    let c = chain(10);
    let head = verify(&c, head_of(&c)).unwrap();
    assert_eq!(
        (head.entries, head.last_seq, head.hash),
        (10, 10, c[9].hash)
    );
    assert_eq!(verify(&[], None).unwrap().entries, 0);
}

#[test]
fn length_prefixes_keep_fields_apart() {
    let a = entry_hash(1, 0, "ab", "c", "", "", &ChainHash::GENESIS);
    let b = entry_hash(1, 0, "a", "bc", "", "", &ChainHash::GENESIS);
    assert_ne!(a, b);
}

#[test]
fn entries_without_a_recorded_head_are_a_break() {
    let c = chain(3);
    assert_eq!(
        verify(&c, None).unwrap_err(),
        ChainBreak::HeadMismatch { seq: 3 }
    );
}

#[test]
fn cutting_off_the_newest_entries_is_found_against_the_head() {
    let c = chain(5);
    let head = head_of(&c);
    let err = verify(&c[..3], head).unwrap_err();
    assert_eq!(err, ChainBreak::Truncated { last: 3, head: 5 });
    assert_eq!(err.first_bad(), 4);
}

#[derive(Debug, Clone)]
enum Tamper {
    EditActor(usize),
    EditDetail(usize),
    EditTime(usize),
    Delete(usize),
    Swap(usize, usize),
    /// Rewrites one entry and recomputes its own hash (but not later ones).
    Forge(usize),
}

proptest! {
    #[test]
    fn every_tampering_is_found_at_the_first_bad_entry(
        n in 2usize..40,
        pick in (0usize..6, any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        let mut c = chain(n);
        let head = head_of(&c);
        let (kind, i, j) = (pick.0, pick.1.index(n), pick.2.index(n));
        let tamper = match kind {
            0 => Tamper::EditActor(i),
            1 => Tamper::EditDetail(i),
            2 => Tamper::EditTime(i),
            3 => Tamper::Delete(i),
            4 if i != j => Tamper::Swap(i.min(j), i.max(j)),
            4 => Tamper::EditActor(i),
            _ => Tamper::Forge(i),
        };
        let first_bad = match &tamper {
            Tamper::EditActor(i) => { c[*i].actor.push('!'); *i as i64 + 1 }
            Tamper::EditDetail(i) => { c[*i].detail = "{}".into(); *i as i64 + 1 }
            Tamper::EditTime(i) => { c[*i].at_ms += 1; *i as i64 + 1 }
            Tamper::Delete(i) => { c.remove(*i); *i as i64 + 1 }
            Tamper::Swap(i, j) => { c.swap(*i, *j); *i as i64 + 1 }
            Tamper::Forge(i) => {
                let e = &mut c[*i];
                e.actor = "someone else".into();
                e.hash = entry_hash(e.seq, e.at_ms, &e.actor, &e.action, &e.subject, &e.detail, &e.prev_hash);
                // The forged entry itself checks out; the next one no longer
                // links, or, for the newest, the recorded head no longer matches.
                if *i == n - 1 { *i as i64 + 1 } else { *i as i64 + 2 }
            }
        };
        let err = verify(&c, head).unwrap_err();
        prop_assert_eq!(err.first_bad(), first_bad, "{:?} gave {}", tamper, err);
    }
}
