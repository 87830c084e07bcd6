//! The zero-downtime section of BENCHMARKS.md.

use std::fmt::Write as _;

use super::TrafficMeasure;
use crate::report::status;

pub const HEADING: &str = "Zero downtime: traffic switch and rollback under load";

/// A switch or rollback by switch should take effect within a second.
pub const SWITCH_TARGET_MS: f64 = 1_000.0;

pub fn table(out: &mut String, measure: Option<&TrafficMeasure>) {
    let _ = writeln!(out, "## {HEADING}\n");
    let Some(m) = measure else {
        let _ = writeln!(
            out,
            "Not measured: `--skip-traffic` was given, or no sample service binary.\n"
        );
        return;
    };
    let _ = writeln!(
        out,
        "Requests through the local target's nginx from {} concurrent clients for 6 s per run, while traffic switches blue → green and is rolled back green → blue.\n",
        super::WORKERS
    );
    let _ = writeln!(
        out,
        "| Measure | Result | Target | Status |\n| --- | ---: | --- | --- |"
    );
    let _ = writeln!(
        out,
        "| Failed requests | {} of {} | 0 | {} |",
        m.failed,
        m.requests,
        status(m.failed == 0)
    );
    let _ = writeln!(
        out,
        "| Requests per second held (median of runs) | {:.0} | — | — |",
        m.rps.p50
    );
    let _ = writeln!(
        out,
        "| Switch time, median (max) | {:.0} ms ({:.0} ms) | < {SWITCH_TARGET_MS:.0} ms | {} |",
        m.switch_ms.p50,
        m.switch_ms.max,
        status(m.switch_ms.max < SWITCH_TARGET_MS)
    );
    let _ = writeln!(
        out,
        "| Rollback time, median (max) | {:.0} ms ({:.0} ms) | < {SWITCH_TARGET_MS:.0} ms | {} |",
        m.rollback_ms.p50,
        m.rollback_ms.max,
        status(m.rollback_ms.max < SWITCH_TARGET_MS)
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "| Run | Requests | Failed | Requests/s | p99 latency | Switch | Rollback |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (i, r) in m.runs.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {}{} | {:.0} | {} | {:.0} ms | {:.0} ms |",
            i + 1,
            r.requests,
            r.failed,
            if r.failures.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.failures.join(", "))
            },
            r.requests_per_second,
            r.p99_ms
                .map_or_else(|| "—".into(), |p| format!("{p:.1} ms")),
            r.switch.as_secs_f64() * 1e3,
            r.rollback.as_secs_f64() * 1e3
        );
    }
    out.push('\n');
}
