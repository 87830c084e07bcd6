//! The readable evidence page: one self-contained HTML file with no scripts
//! and no external resources, printable, that a CAB can read as it is.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use release_desk_changes::{Discount, Verdict};

use crate::EvidencePack;

const CSS: &str = r#"
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
main { max-width: 960px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; border-bottom: 1px solid #d8dce3; padding-bottom: 4px; }
.meta { color: #566074; margin: 0 0 16px; }
.card { background: #fff; border: 1px solid #d8dce3; border-radius: 8px; padding: 16px; }
dl { display: grid; grid-template-columns: 200px 1fr; gap: 6px 16px; margin: 0; }
dt { color: #566074; } dd { margin: 0; white-space: pre-wrap; }
table { width: 100%; border-collapse: collapse; background: #fff; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #e4e7ec; vertical-align: top; }
th { color: #566074; font-weight: 600; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; word-break: break-all; }
.ok { color: #116b3a; font-weight: 600; } .bad { color: #a4161a; font-weight: 600; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; border: 1px solid currentColor; font-size: 12px; }
@media print { body { background: #fff; } .card { border: none; padding: 0; } }
"#;

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) fn render(pack: &EvidencePack) -> Markup {
    let c = &pack.change;
    let r = &c.record;
    let v = &pack.chain.verification;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Evidence pack: " (r.reference) " " (r.title) }
                style { (PreEscaped(CSS)) }
            }
            body { main {
                h1 { (r.reference) ": " (r.title) }
                p.meta {
                    "Evidence pack generated " (when(pack.generated_at)) " by " (pack.generated_by)
                    " from the workspace " (pack.workspace) "."
                }
                div.card {
                    p {
                        @if v.intact {
                            span.ok { "✔ Audit chain intact" } " — " (v.entries) " entries verified; head entry "
                            (v.head_seq) " hash " code { (v.head_hash.clone().unwrap_or_default()) }
                        } @else {
                            span.bad { "✘ Audit chain broken" } " — " (v.message)
                        }
                    }
                }

                h2 { "Change" }
                div.card { dl {
                    dt { "Type" } dd { (r.kind.as_str()) }
                    dt { "State" } dd { (r.state.as_str()) }
                    @if let Some(o) = r.outcome { dt { "Outcome" } dd { (o.as_str().replace('_', " ")) } }
                    @if let Some(n) = &r.closing_note { dt { "Closing note" } dd { (n) } }
                    dt { "Artefact" } dd { (r.artefact.service) " " (r.artefact.version) }
                    dt { "Digest" } dd.mono { (r.artefact.digest.to_string()) }
                    dt { "Services" } dd { (r.services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                    dt { "Environments" } dd { (r.environments.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                    dt { "Planned" } dd { (when(r.planned_start)) " to " (when(r.planned_end)) }
                    dt { "Requester" } dd { (r.requester_name) }
                    dt { "Assignee" } dd { (r.assignee_name.clone().unwrap_or_else(|| "—".into())) }
                    dt { "Description" } dd { (r.description) }
                    dt { "Implementation plan" } dd { (r.implementation_plan) }
                    dt { "Backout plan" } dd { (r.backout_plan) }
                    dt { "Test plan" } dd { (r.test_plan) }
                    @if !r.rollback_possible {
                        dt { "No rollback: justification" } dd { (r.no_rollback_justification.clone().unwrap_or_default()) }
                    }
                    @for l in &r.links { dt { "Link" } dd { (l.value) } }
                } }

                h2 { "Risk: " (c.risk.level.as_str()) }
                div.card {
                    @if c.risk.flags.is_empty() { p { "No risk flags." } }
                    ul { @for f in &c.risk.flags { li { (f.reason) } } }
                    @if let Some(o) = &c.risk.overridden {
                        p { "Overridden from " strong { (c.risk.computed.as_str()) } " to " strong { (o.level.as_str()) }
                            " by " (o.by) " on " (when(o.at)) ": " (o.reason) }
                    }
                }

                h2 { "What ships: " (c.commits.len()) " commits" }
                table {
                    tr { th { "Commit" } th { "Summary" } th { "Author" } }
                    @for cm in &c.commits { tr { td.mono { (cm.sha.get(..12).unwrap_or(&cm.sha)) } td { (cm.summary) } td { (cm.author) } } }
                }

                h2 { "Approvals" }
                @for a in &c.approvals {
                    p { strong { (a.environment) } ": " (a.summary()) }
                }
                table {
                    tr { th { "When" } th { "Who" } th { "Decision" } th { "Comment" } th { "Digest" } th { "Counts" } }
                    @for d in &c.decisions {
                        tr {
                            td { (when(d.at)) }
                            td { (d.by_name) }
                            td { @match d.verdict { Verdict::Approve => "Approved", Verdict::Reject => "Rejected" } }
                            td { (d.comment) }
                            td.mono { (d.digest.hex().get(..12).unwrap_or_default()) }
                            td { (weighing(pack, d.id)) }
                        }
                    }
                }

                h2 { "Who the people are" }
                p { (pack.identity) }

                h2 { "History (audit log)" }
                table {
                    tr { th { "#" } th { "When" } th { "Who" } th { "What" } th { "Detail" } th { "Hash" } }
                    @for e in &c.history {
                        tr {
                            td { (e.seq) } td { (when(e.at)) } td { (e.actor) } td { (e.action) }
                            td.mono { (e.detail) } td.mono { (e.hash.get(..16).unwrap_or_default()) "…" }
                        }
                    }
                }
                p.meta { "Chain algorithm: " (pack.chain.algorithm) }
            } }
        }
    }
}

/// How a decision was weighed, per target environment when they differ.
fn weighing(pack: &EvidencePack, id: i64) -> String {
    let mut parts: Vec<String> = Vec::new();
    for a in &pack.change.approvals {
        if let Some(w) = a.decisions.iter().find(|w| w.decision.id == id) {
            let text = discount(w.discount.as_ref(), w.counted_for.as_deref());
            if pack.change.approvals.len() > 1 {
                parts.push(format!("{}: {text}", a.environment));
            } else {
                parts.push(text);
            }
        }
    }
    if parts.is_empty() {
        "—".into()
    } else {
        parts.join("; ")
    }
}

fn discount(d: Option<&Discount>, counted_for: Option<&str>) -> String {
    match (d, counted_for) {
        (None, Some(rule)) => format!("Yes, as {rule}"),
        (None, None) => "Stands".into(),
        (Some(Discount::SelfApproval), _) => "No: own change".into(),
        (Some(Discount::DigestChanged { .. }), _) => "No: given for another artefact".into(),
        (Some(Discount::Expired { at }), _) => format!("No: expired {}", when(*at)),
        (Some(Discount::Superseded), _) => "No: superseded by a later decision".into(),
        (Some(Discount::NotEligible), _) => "No: not an approver under the policy".into(),
    }
}
