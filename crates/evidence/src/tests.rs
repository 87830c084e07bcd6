//! A pack built from a real store: complete, escaped, and written whole.

use super::*;
use chrono::{Duration, TimeZone};
use release_desk_changes::{
    ArtefactRef, ChangeDraft, ChangeType, ProfileDraft, Transition, Verdict,
};
use release_desk_domain::Slug;
use release_desk_store::{Store, DATABASE_FILE};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 10, 30, 0).unwrap()
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

async fn approved_change(dir: &Path) -> (Store, ChangeDetail) {
    let (store, _) = Store::open(&dir.join(DATABASE_FILE)).await.unwrap();
    store
        .load_workspace(&release_desk_demo::demo_workspace(now()), now())
        .await
        .unwrap();
    let profile = |name: &str, role: &str| ProfileDraft {
        name: name.into(),
        email: format!("{name}@acme.example"),
        roles: vec![slug(role)],
    };
    let priya = store
        .create_profile(profile("Priya", "release-manager"), now())
        .await
        .unwrap();
    let sam = store
        .create_profile(profile("Sam", "change-manager"), now())
        .await
        .unwrap();
    let version: String = sqlx::query_scalar(
        "SELECT a.version FROM artefacts a JOIN services s ON s.id = a.service_id WHERE s.key = 'payments-api' ORDER BY a.created_at_ms DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    let draft = ChangeDraft {
        kind: ChangeType::Normal,
        template: None,
        title: "Refunds <script>alert('x')</script> fix".into(),
        description: "Rounds refunds & fees".into(),
        services: vec![],
        environments: vec![slug("uat")],
        artefact: ArtefactRef {
            service: slug("payments-api"),
            version,
        },
        planned_start: now() + Duration::days(1),
        planned_end: now() + Duration::days(1) + Duration::hours(1),
        implementation_plan: "Blue-green".into(),
        backout_plan: "Switch back".into(),
        test_plan: "Smoke".into(),
        assignee: None,
        links: vec![],
        rollback_possible: true,
        no_rollback_justification: None,
        schema_migration: false,
        files_changed: None,
    };
    let r = store.raise_change(draft, &priya, now()).await.unwrap();
    let r = store
        .move_change(r.id, r.revision, Transition::Submit, &priya, now())
        .await
        .unwrap();
    let r = store
        .move_change(r.id, r.revision, Transition::RequestApproval, &priya, now())
        .await
        .unwrap();
    let r = store
        .decide(r.id, r.revision, Verdict::Approve, "ok", &sam, now())
        .await
        .unwrap();
    let detail = store.change(r.id, None, now()).await.unwrap();
    (store, detail)
}

#[tokio::test]
async fn a_pack_holds_the_change_its_decisions_and_the_chain_proof() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detail) = approved_change(dir.path()).await;
    let verification = store.verify_audit().await.unwrap();
    let pack = EvidencePack::new(
        detail.clone(),
        verification,
        "Acme Health demo",
        "Sam",
        now(),
    );
    let written = pack.write_to(&dir.path().join("evidence")).unwrap();
    assert!(written.chain_intact);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.json).unwrap()).unwrap();
    assert_eq!(json["change"]["record"]["reference"], "CHG-0001");
    assert_eq!(json["change"]["record"]["state"], "scheduled");
    assert_eq!(json["change"]["decisions"][0]["byName"], "Sam");
    assert_eq!(json["chain"]["verification"]["intact"], true);
    let links = json["chain"]["links"].as_array().unwrap();
    assert_eq!(links.len(), detail.history.len());
    assert_eq!(
        links.last().unwrap()["hash"],
        detail.history.last().unwrap().hash.as_str()
    );
    assert_eq!(
        json["change"]["record"]["artefact"]["digest"],
        detail.record.artefact.digest.to_string().as_str()
    );

    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.contains("CHG-0001"));
    assert!(html.contains(&detail.record.artefact.digest.to_string()));
    assert!(html.contains("Audit chain intact"));
    assert!(!html.contains("<script>"), "typed text must be escaped");
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("Yes, as change-manager"));
    // Issue 12, finding 5: every pack says what a local profile proves.
    assert!(html.contains("not who was authenticated"), "{html}");
    assert_eq!(
        json["identity"],
        release_desk_changes::LOCAL_PROFILE_NOTE,
        "the JSON says it too"
    );
    // No temporary files are left behind.
    let leftovers = std::fs::read_dir(dir.path().join("evidence"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "partial")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn a_broken_chain_is_stated_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let (store, detail) = approved_change(dir.path()).await;
    sqlx::query("DROP TRIGGER audit_log_is_not_edited")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'Mallory' WHERE seq = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let pack = EvidencePack::new(
        detail,
        store.verify_audit().await.unwrap(),
        "w",
        "Sam",
        now(),
    );
    let html = pack.to_html();
    assert!(html.contains("Audit chain broken"));
    assert!(
        html.contains("audit entry 2 was edited"),
        "the page names the first bad entry"
    );
}
