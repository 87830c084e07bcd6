//! The role matrix through the real IPC layer: every command that writes is
//! called by nobody, then by a person holding each known role alone, and the
//! ones the matrix below says may not are refused by the rule that guards it
//! (and the ones that may are not). The matrix is written out here by hand,
//! as the specification; `release_desk_access` is what it checks.
//!
//! Runs the real commands through Tauri's IPC layer (the mock runtime: no
//! window), on the demo workspace in a real SQLite file, with the real OS
//! keyring (`make test` provides gnome-keyring inside dbus-run-session).

use release_desk_credentials::Credentials;
use release_desk_lib::state::{AppPaths, AppState};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Instant;
use tauri::ipc::InvokeResponseBody;
use tauri::test::MockRuntime;
use tauri::WebviewWindow;

mod common;

/// A command's answer: the value, or the error's code and message.
fn invoke(
    webview: &WebviewWindow<MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, (String, String)> {
    match common::call(webview, cmd, args) {
        Ok(InvokeResponseBody::Json(s)) => Ok(serde_json::from_str(&s).unwrap()),
        Ok(InvokeResponseBody::Raw(_)) => panic!("{cmd} answered raw bytes"),
        Err(error) => Err((
            error["code"].as_str().unwrap_or("?").to_owned(),
            error["message"]
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned),
        )),
    }
}

fn ok(webview: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Value {
    invoke(webview, cmd, args).unwrap_or_else(|e| panic!("{cmd}: {e:?}"))
}

/// The codes that mean "not you": a refusal by who is asking, never by what
/// was asked.
const WHO_CODES: [&str; 9] = [
    "no_profile",
    "not_release_manager",
    "calendar_role",
    "freeze_role",
    "transition_actor",
    "risk_override",
    "freeze_override_role",
    "separation_of_duties",
    "approver_role",
];

/// Commands that change nothing a person is accountable for: they read, or
/// record telemetry for `make bench`.
const READS: [&str; 25] = [
    "app_status",
    "dashboard",
    "cell_history",
    "report_dashboard_rendered",
    "credential_status",
    "preferences",
    "session",
    "changes",
    "change",
    "change_form_options",
    "export_evidence",
    "verify_audit",
    "recent_audit",
    "policies",
    "approval_queue",
    "calendar_view",
    "next_free_calendar_slot",
    "check_schedule",
    "calendar_rules",
    "preview_calendar_rule",
    "export_calendar_ics",
    "preview_ics_import",
    "report_calendar_rendered",
    "promote_options",
    "promotion_gates",
];

const MORE_READS: [&str; 9] = [
    "provider_approvals",
    "connections",
    "provider_bindings",
    "sync_status",
    "promotion",
    "cell_promotions",
    "rollback_readiness",
    "target_status",
    "deployment_settings",
];

/// Writes open to anyone, each for a stated reason.
const OPEN: [(&str, &str); 6] = [
    (
        "sync_now",
        "refreshes the cache with what providers report: no one's decision, audited as the sync's",
    ),
    (
        "load_demo_workspace",
        "only into an empty database, before anyone exists",
    ),
    (
        "move_database_aside",
        "only when the file is unusable, when no profile can be read",
    ),
    (
        "create_profile",
        "local profiles prove nothing (README): creation is audited",
    ),
    (
        "use_profile",
        "local profiles prove nothing (README): every switch is audited",
    ),
    ("set_theme", "a preference of this computer, not a decision"),
];

/// Who may call each guarded write, by known role held alone (`None`: the
/// answer is the approval policy's and the clock's, not asserted here).
/// "Party or manager" commands act on a demo change none of these people is
/// a party to.
fn may(cmd: &str, role: Option<&str>) -> Option<bool> {
    let release = role == Some("release-manager");
    let change = role == Some("change-manager");
    Some(match cmd {
        "raise_change" => true, // any profile
        "reorder_environments"
        | "set_credential"
        | "remove_credential"
        | "add_trusted_key"
        | "remove_trusted_key"
        | "bind_target"
        | "set_artefact_location"
        | "request_promotion"
        | "add_connection"
        | "remove_connection"
        | "set_connection_secret"
        | "test_connection"
        | "add_binding"
        | "remove_binding" => release,
        "save_calendar_rule" | "import_ics" => release || change,
        "delete_calendar_rule" => change, // the rule deleted is a freeze
        "edit_change" | "reschedule_change" | "move_change" => release || change,
        "override_risk" | "override_freeze" => change,
        // The approval policy decides: the demo's asks change managers,
        // service owners for production, and heads of service once escalated.
        "decide" | "approve_many" => {
            if matches!(role, Some("service-owner" | "head-of-service")) {
                return None;
            }
            change
        }
        // The stage's policy decides, as for "decide", and only once the
        // provider's approval exists (tests/provider_approvals in the store
        // and the GitHub E2E cover who may): asserted there, not here.
        "decide_provider_approval" => return None,
        other => panic!("no row in the matrix for {other}"),
    })
}

/// Every command the app registers, read from the one list that registers
/// them, so a new command cannot miss this test.
fn registered_commands() -> BTreeSet<String> {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src-tauri/bindings.rs"
    ))
    .unwrap();
    let start = source.find("collect_commands![").expect("the command list");
    let end = start + source[start..].find("])").unwrap();
    source[start..end]
        .lines()
        .skip(1)
        .filter_map(|l| {
            l.trim()
                .trim_end_matches(',')
                .split("::")
                .nth(1)
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn every_write_is_refused_to_each_role_the_matrix_excludes() {
    let dir = tempfile::tempdir().unwrap();
    let paths = AppPaths {
        data_dir: dir.path().join("data"),
        log_dir: dir.path().join("logs"),
    };
    let credentials = Credentials::with_service(&format!(
        "dev.releasedesk.test.roles.{}",
        std::process::id()
    ));
    let state = tauri::async_runtime::block_on(AppState::open(paths, credentials, Instant::now()));
    let (app, w) = common::app(state);
    ok(&w, "load_demo_workspace", json!({}));

    // Every registered command is classified: read, open to anyone, or in
    // the matrix.
    let guarded = [
        "raise_change",
        "edit_change",
        "move_change",
        "override_risk",
        "approve_many",
        "decide",
        "decide_provider_approval",
        "override_freeze",
        "save_calendar_rule",
        "delete_calendar_rule",
        "reschedule_change",
        "import_ics",
        "request_promotion",
        "add_trusted_key",
        "remove_trusted_key",
        "bind_target",
        "set_artefact_location",
        "set_credential",
        "remove_credential",
        "reorder_environments",
        "add_connection",
        "remove_connection",
        "set_connection_secret",
        "test_connection",
        "add_binding",
        "remove_binding",
    ];
    let classified: BTreeSet<String> = READS
        .iter()
        .chain(MORE_READS.iter())
        .chain(OPEN.iter().map(|(c, _)| c))
        .chain(guarded.iter())
        .map(|c| (*c).to_owned())
        .collect();
    assert_eq!(
        registered_commands(),
        classified,
        "a command is registered but not classified here (or the other way round)"
    );

    // The people: one per known role, holding it alone, and one with none.
    let roles: Vec<Option<&str>> = std::iter::once(None)
        .chain(
            [
                "change-manager",
                "service-owner",
                "release-manager",
                "product-owner",
                "cab-member",
                "head-of-service",
            ]
            .map(Some),
        )
        .collect();
    let people: Vec<(Option<&str>, i64)> = roles
        .iter()
        .enumerate()
        .map(|(i, role)| {
            let p = ok(
                &w,
                "create_profile",
                json!({ "draft": {
                    "name": format!("Matrix {}", role.unwrap_or("nobody")),
                    "email": format!("matrix{i}@example.org"),
                    "roles": role.map(|r| vec![r]).unwrap_or_default(),
                }}),
            );
            (*role, p["id"].as_i64().unwrap())
        })
        .collect();

    // What the calls act on: a change still being planned, the change that
    // meets the UAT freeze, that freeze, and a demo artefact.
    let summaries = ok(&w, "changes", json!({}));
    let summaries = summaries.as_array().unwrap();
    let planned = summaries
        .iter()
        .find(|c| {
            c["kind"] == "normal" && ["new", "assess"].contains(&c["state"].as_str().unwrap())
        })
        .expect("a normal change being planned");
    let planned_id = planned["id"].as_i64().unwrap();
    let rules = ok(&w, "calendar_rules", json!({}));
    let freeze = rules
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "freeze" && r["title"].as_str().unwrap().contains("UAT"))
        .expect("the UAT freeze");
    let freeze_id = freeze["id"].as_i64().unwrap();
    let frozen = summaries
        .iter()
        .find(|c| {
            c["service"] == "appointments-api"
                && c["environments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e == "uat")
        })
        .expect("the change that meets the UAT freeze");
    let frozen_id = frozen["id"].as_i64().unwrap();
    let waiting = summaries
        .iter()
        .find(|c| c["state"] == "authorise")
        .expect("a change waiting for approval");
    let waiting_id = waiting["id"].as_i64().unwrap();

    // Each call's arguments, built fresh (revisions move as allowed calls
    // succeed).
    let revision = |w: &WebviewWindow<MockRuntime>, id: i64| {
        ok(w, "change", json!({ "id": id }))["record"]["revision"].clone()
    };
    let args = |w: &WebviewWindow<MockRuntime>, cmd: &str| -> Value {
        match cmd {
            "raise_change" | "edit_change" => {
                let record = ok(w, "change", json!({ "id": planned_id }))["record"].clone();
                let mut draft = record.clone();
                draft["artefact"] = json!({
                    "service": record["artefact"]["service"],
                    "version": record["artefact"]["version"],
                });
                if cmd == "raise_change" {
                    json!({ "draft": draft })
                } else {
                    json!({ "id": planned_id, "revision": record["revision"], "draft": draft })
                }
            }
            "move_change" => json!({
                "id": planned_id,
                "revision": revision(w, planned_id),
                // Not possible from planning: an allowed caller is refused by
                // the lifecycle, never by who they are.
                "transition": { "action": "complete" },
            }),
            "override_risk" => json!({
                "id": planned_id, "revision": revision(w, planned_id),
                "level": "high", "reason": "matrix",
            }),
            "reschedule_change" => {
                let record = ok(w, "change", json!({ "id": planned_id }))["record"].clone();
                json!({
                    "id": planned_id, "revision": record["revision"],
                    "start": record["plannedStart"], "end": record["plannedEnd"],
                })
            }
            "override_freeze" => json!({
                "change": frozen_id, "revision": revision(w, frozen_id),
                "rule": freeze_id, "reason": "matrix",
            }),
            "decide" => json!({
                "id": waiting_id, "revision": revision(w, waiting_id),
                "verdict": "reject", "comment": "matrix",
            }),
            "approve_many" => json!({
                "changes": [{ "id": waiting_id, "revision": revision(w, waiting_id) }],
                "comment": "matrix",
            }),
            "decide_provider_approval" => json!({
                "id": 1, "verdict": "approve", "comment": "matrix",
            }),
            "save_calendar_rule" => json!({ "id": null, "draft": {
                "kind": "window", "title": "Matrix window", "zone": "Europe/London",
                "start": "2031-01-07T10:00:00", "durationMinutes": 60,
                "recurrence": null, "exceptions": [],
                "scope": { "services": [], "environments": [] },
            }}),
            "delete_calendar_rule" => json!({ "id": freeze_id }),
            "import_ics" => json!({
                "text": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//matrix//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\nDTSTAMP:20300101T000000Z\r\nDTSTART:20310107T100000Z\r\nDTEND:20310107T110000Z\r\nSUMMARY:Matrix import\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                "fileName": "matrix.ics", "kinds": [],
            }),
            "request_promotion" => json!({
                // Not bound to a target: an allowed caller is refused for
                // that, never by who they are, and nothing is deployed.
                "kind": "promote", "service": "payments-api", "environment": "dev",
                "version": "0.0.1", "requestKey": format!("matrix-{}", fastish_id()),
            }),
            "add_trusted_key" => json!({ "publicKey": "not a key", "label": "matrix" }),
            "remove_trusted_key" => json!({ "id": 999_999 }),
            "bind_target" => json!({ "binding": {
                "service": "payments-api", "environment": "dev", "provider": "no-such-target",
                "strategy": "blue_green", "soakSecs": 10,
                "thresholds": { "maxErrorRatePct": 1.0, "maxP95Ms": 500.0, "minRequests": 5 },
            }}),
            "set_artefact_location" => json!({
                "service": "demo-web", "version": "1.0.0", "location": "/dev/null",
            }),
            "set_credential" => json!({ "provider": "github", "secret": "matrix-not-a-token" }),
            "remove_credential" => json!({ "provider": "github" }),
            "reorder_environments" => {
                json!({ "keys": ["production", "dev", "test", "uat", "preprod"] })
            }
            "add_connection" => json!({ "draft": {
                "kind": "github", "name": format!("matrix {}", fastish_id()), "baseUrl": null,
                "settings": {}, "reach": "test",
            }}),
            "remove_connection" => json!({ "id": 999_999 }),
            "set_connection_secret" => json!({ "id": 999_999, "secret": "matrix-not-a-token" }),
            "test_connection" => json!({ "id": 999_999 }),
            "add_binding" => json!({ "draft": {
                "service": "payments-api", "environment": "dev", "connection": 999_999,
                "settings": { "repository": "acme/payments-api" },
            }}),
            "remove_binding" => json!({ "id": 999_999 }),
            other => panic!("no arguments for {other}"),
        }
    };

    let mut checked = 0;
    for cmd in guarded {
        // Those the matrix excludes first, so an allowed call's effect (a
        // deleted freeze) cannot change the answer they get.
        let mut order: Vec<&(Option<&str>, i64)> = people.iter().collect();
        order.sort_by_key(|(role, _)| may(cmd, *role) != Some(false));
        for (role, id) in order {
            ok(&w, "use_profile", json!({ "id": id }));
            let a = args(&w, cmd);
            let mut got = invoke(&w, cmd, a);
            if let Ok(batch) = &got {
                // A batch answers each change: its refusal is the answer.
                if let Some(r) = batch.get("refused").and_then(|r| r.get(0)) {
                    got = Err((
                        r["code"].as_str().unwrap().to_owned(),
                        r["message"].as_str().unwrap().to_owned(),
                    ));
                }
            }
            // Every call reached the command: its arguments deserialised.
            assert!(
                !matches!(&got, Err((code, _)) if code == "?"),
                "{cmd}: {got:?}"
            );
            if std::env::var_os("MATRIX_VERBOSE").is_some() {
                eprintln!(
                    "{cmd} {role:?}: {}",
                    match &got {
                        Ok(_) => "ok".to_owned(),
                        Err((code, m)) => format!("{code}: {m}"),
                    }
                );
            }
            let refused_for_who =
                matches!(&got, Err((code, _)) if WHO_CODES.contains(&code.as_str()));
            match may(cmd, *role) {
                Some(true) => assert!(
                    !refused_for_who,
                    "{cmd} refused {role:?}, whom the matrix allows: {got:?}"
                ),
                Some(false) => {
                    assert!(refused_for_who, "{cmd} did not refuse {role:?}: {got:?}")
                }
                None => {}
            }
            checked += 1;
        }
    }
    assert_eq!(checked, guarded.len() * people.len());

    // The reorder an allowed release manager asked for put production first:
    // the matrix's own call proves it was not refused for who they are, and
    // the store still refuses it for what it is.
    let path = ok(&w, "dashboard", json!({}))["environments"].clone();
    assert_eq!(
        path.as_array().unwrap().last().unwrap()["key"],
        "production"
    );

    // No one chosen at all (a fresh database): every guarded write says so.
    let dir2 = tempfile::tempdir().unwrap();
    drop(w);
    drop(app);
    let state = tauri::async_runtime::block_on(AppState::open(
        AppPaths {
            data_dir: dir2.path().join("data"),
            log_dir: dir2.path().join("logs"),
        },
        Credentials::with_service(&format!(
            "dev.releasedesk.test.roles2.{}",
            std::process::id()
        )),
        Instant::now(),
    ));
    let (_app, w) = common::app(state);
    ok(&w, "load_demo_workspace", json!({}));
    for cmd in guarded {
        let got = invoke(&w, cmd, args_without_profile(cmd));
        assert!(
            matches!(&got, Err((code, _)) if code == "no_profile"),
            "{cmd} without a profile: {got:?}"
        );
    }
}

/// Arguments that deserialise, for calls that must fail before reading them.
fn args_without_profile(cmd: &str) -> Value {
    let change = json!({
        "kind": "normal", "template": null, "title": "t", "description": "d",
        "services": ["payments-api"], "environments": ["dev"],
        "artefact": { "service": "payments-api", "version": "1" },
        "plannedStart": "2031-01-07T10:00:00Z", "plannedEnd": "2031-01-07T11:00:00Z",
        "implementationPlan": "i", "backoutPlan": "b", "testPlan": "t", "assignee": null,
        "links": [], "rollbackPossible": true, "noRollbackJustification": null,
        "schemaMigration": false, "filesChanged": null,
    });
    match cmd {
        "raise_change" => json!({ "draft": change }),
        "edit_change" => json!({ "id": 1, "revision": 1, "draft": change }),
        "move_change" => json!({ "id": 1, "revision": 1, "transition": { "action": "submit" } }),
        "override_risk" => json!({ "id": 1, "revision": 1, "level": "high", "reason": "r" }),
        "decide" => json!({ "id": 1, "revision": 1, "verdict": "approve", "comment": "" }),
        "approve_many" => json!({ "changes": [{ "id": 1, "revision": 1 }], "comment": "" }),
        "decide_provider_approval" => json!({ "id": 1, "verdict": "approve", "comment": "" }),
        "save_calendar_rule" => json!({ "id": null, "draft": {
            "kind": "window", "title": "w", "zone": "Europe/London",
            "start": "2031-01-07T10:00:00", "durationMinutes": 60,
            "recurrence": null, "exceptions": [],
            "scope": { "services": [], "environments": [] },
        }}),
        "delete_calendar_rule" => json!({ "id": 1 }),
        "reschedule_change" => json!({
            "id": 1, "revision": 1,
            "start": "2031-01-07T10:00:00Z", "end": "2031-01-07T11:00:00Z",
        }),
        "override_freeze" => json!({ "change": 1, "revision": 1, "rule": 1, "reason": "r" }),
        "import_ics" => {
            json!({ "text": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", "fileName": "x.ics", "kinds": [] })
        }
        "request_promotion" => json!({
            "kind": "promote", "service": "demo-web", "environment": "dev",
            "version": "1.0.0", "requestKey": "k",
        }),
        "add_trusted_key" => json!({ "publicKey": "k", "label": "l" }),
        "remove_trusted_key" => json!({ "id": 1 }),
        "bind_target" => json!({ "binding": {
            "service": "demo-web", "environment": "dev", "provider": "local-nginx",
            "strategy": "blue_green", "soakSecs": 10,
            "thresholds": { "maxErrorRatePct": 1.0, "maxP95Ms": 500.0, "minRequests": 5 },
        }}),
        "set_artefact_location" => {
            json!({ "service": "demo-web", "version": "1.0.0", "location": "/dev/null" })
        }
        "set_credential" => json!({ "provider": "github", "secret": "s" }),
        "remove_credential" => json!({ "provider": "github" }),
        "reorder_environments" => {
            json!({ "keys": ["dev", "test", "uat", "preprod", "production"] })
        }
        "add_connection" => json!({ "draft": {
            "kind": "github", "name": "n", "baseUrl": null, "settings": {}, "reach": null,
        }}),
        "remove_connection" => json!({ "id": 1 }),
        "set_connection_secret" => json!({ "id": 1, "secret": "s" }),
        "test_connection" | "remove_binding" => json!({ "id": 1 }),
        "add_binding" => json!({ "draft": {
            "service": "demo-web", "environment": "dev", "connection": 1, "settings": {},
        }}),
        other => panic!("no arguments for {other}"),
    }
}

fn fastish_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}
