//! The sync section of BENCHMARKS.md.

use std::fmt::Write as _;

use super::{SyncMeasure, DEPLOYMENTS_PER_ENVIRONMENT, ENVIRONMENTS, LATENCY, REPOSITORIES};
use crate::report::status;

pub const HEADING: &str = "Sync from GitHub: first sync and unchanged re-sync";

/// An unchanged re-sync should cost under 5% of the first sync's time.
pub const RESYNC_TARGET: f64 = 0.05;

pub fn table(out: &mut String, measure: Option<&SyncMeasure>) {
    let _ = writeln!(out, "## {HEADING}\n");
    let Some(m) = measure else {
        let _ = writeln!(out, "Not measured: `--skip-sync` was given.\n");
        return;
    };
    let _ = writeln!(
        out,
        "{REPOSITORIES} repositories × {ENVIRONMENTS} environments ({} bindings of one GitHub connection), {DEPLOYMENTS_PER_ENVIRONMENT} deployments each, against a local fake GitHub that adds {} ms to every answer, sends ETags and answers 304 to a matching `If-None-Match`. Requests are sent one at a time, as GitHub asks of integrations.\n",
        m.bindings,
        LATENCY.as_millis()
    );
    let _ = writeln!(
        out,
        "| Pass | Time | Requests | Answered 304 | Rate-limit points | Rows written |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, p) in [
        ("First sync", &m.first),
        ("Re-sync, nothing changed", &m.again),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.1} s | {} | {} | {} | {} |",
            p.time.as_secs_f64(),
            p.requests,
            p.not_modified,
            p.points,
            p.rows_written
        );
    }
    let ratio = m.again.time.as_secs_f64() / m.first.time.as_secs_f64().max(f64::EPSILON);
    out.push('\n');
    let _ = writeln!(out, "| Target | Result | Status |\n| --- | ---: | --- |");
    let _ = writeln!(
        out,
        "| Re-sync uses only conditional requests | {} of {} answered 304 | {} |",
        m.again.not_modified,
        m.again.requests,
        status(m.again.not_modified == m.again.requests)
    );
    let _ = writeln!(
        out,
        "| Re-sync costs 0 rate-limit points | {} | {} |",
        m.again.points,
        status(m.again.points == 0)
    );
    let _ = writeln!(
        out,
        "| Re-sync under 5% of the first sync's time | {:.1}% | {} |",
        ratio * 100.0,
        status(ratio < RESYNC_TARGET)
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "Where it stands: an unchanged environment costs one conditional request (its deployments list; finished deployments' statuses are reused), so a re-sync is one request per binding where the first sync is one per binding plus one per deployment. With {DEPLOYMENTS_PER_ENVIRONMENT} deployments per environment that bounds the re-sync at about a third of the first sync's time, not 5%. Reaching 5% needs fewer requests than bindings: one list per repository instead of per environment (about {REPOSITORIES} requests here), or a few conditional requests in flight at once.\n"
    );
}
