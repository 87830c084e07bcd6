//! The next free slot: the earliest start, from a given time, at which a
//! change of a given length sits inside an open window, outside every freeze
//! and clear of other changes to the same service and environment.

use chrono::{DateTime, Duration, Utc};
use release_desk_domain::{Digest, Slug};

use crate::conflict::{conflicts, Booking, ConflictKind};
use crate::{Expanded, RuleKind};

/// `rules` must be expanded over `[from, horizon + duration]`. Returns `None`
/// when nothing fits before `horizon`.
#[allow(clippy::too_many_arguments)] // each is a distinct question the planner asks
pub fn next_free_slot(
    service: &Slug,
    environment: &Slug,
    duration: Duration,
    from: DateTime<Utc>,
    horizon: DateTime<Utc>,
    rules: &[Expanded],
    bookings: &[Booking],
    digest: &Digest,
) -> Option<DateTime<Utc>> {
    // Only these instants can be the earliest fit: the start of the search,
    // a window opening, a freeze ending or another change ending.
    let mut candidates = vec![from];
    for r in rules
        .iter()
        .filter(|r| r.rule.scope.applies_to(service, environment))
    {
        for o in &r.occurrences {
            match r.kind() {
                RuleKind::Window => candidates.push(o.start),
                RuleKind::Freeze => candidates.push(o.end),
            }
        }
    }
    for b in bookings
        .iter()
        .filter(|b| &b.service == service && &b.environment == environment)
    {
        candidates.push(b.end);
    }
    candidates.retain(|c| *c >= from && *c <= horizon);
    candidates.sort();
    candidates.dedup();
    candidates.into_iter().find(|start| {
        let probe = Booking {
            id: i64::MIN,
            reference: String::new(),
            service: service.clone(),
            environment: environment.clone(),
            stage: 0,
            production: false,
            digest: digest.clone(),
            start: *start,
            end: *start + duration,
            overrides: Vec::new(),
        };
        conflicts(&probe, rules, bookings)
            .iter()
            .all(|c| c.kind == ConflictKind::BeforeEarlierStages || !c.blocks())
    })
}
