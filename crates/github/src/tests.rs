use super::*;

#[test]
fn the_api_root_follows_what_a_person_typed() {
    assert_eq!(api_root("https://github.com"), "https://api.github.com");
    assert_eq!(
        api_root("https://github.com/acme/"),
        "https://api.github.com"
    );
    assert_eq!(
        api_root("https://api.github.com/"),
        "https://api.github.com"
    );
    assert_eq!(
        api_root("https://ghe.acme.example"),
        "https://ghe.acme.example/api/v3"
    );
    assert_eq!(
        api_root("https://ghe.acme.example/api/v3/"),
        "https://ghe.acme.example/api/v3"
    );
    assert_eq!(api_root("http://127.0.0.1:4010"), "http://127.0.0.1:4010");
}

#[test]
fn a_repository_is_owner_slash_name_and_nothing_that_adds_a_path() {
    let b = |v: &str| BindingSettings::from([("repository".to_string(), v.to_string())]);
    assert_eq!(
        repository(&b("acme/shop.web")).unwrap(),
        ("acme".into(), "shop.web".into())
    );
    for bad in [
        "acme",
        "acme/shop/x",
        "../x",
        "acme/..",
        "acme/sh op",
        "acme/",
        "/shop",
        "a?b/c",
    ] {
        assert!(repository(&b(bad)).is_err(), "{bad} accepted");
    }
    assert!(repository(&BindingSettings::new()).is_err());
}

#[test]
fn a_query_value_or_segment_cannot_add_parameters_or_segments() {
    assert_eq!(enc("prod eu/1&x=y"), "prod%20eu%2F1%26x%3Dy");
}

fn run(status: &str, conclusion: Option<&str>) -> wire::Run {
    wire::Run {
        id: 1,
        name: Some("Deploy".into()),
        display_title: Some("Release Desk promotion-x/deploy/1".into()),
        run_number: 3,
        status: Some(status.into()),
        conclusion: conclusion.map(str::to_string),
        head_sha: "abc".into(),
        html_url: "https://github.com/acme/shop/actions/runs/1".into(),
        created_at: chrono::Utc::now(),
    }
}

#[test]
fn a_run_succeeds_only_on_success_and_skipped_is_not_success() {
    assert_eq!(
        run_state(&run("completed", Some("success")), "p"),
        RunState::Succeeded
    );
    assert_eq!(
        run_state(&run("completed", Some("cancelled")), "p"),
        RunState::Cancelled
    );
    for c in [
        "failure",
        "timed_out",
        "skipped",
        "neutral",
        "action_required",
        "stale",
    ] {
        assert!(
            matches!(
                run_state(&run("completed", Some(c)), "p"),
                RunState::Failed(_)
            ),
            "{c}"
        );
    }
    assert!(
        matches!(run_state(&run("waiting", None), "production"), RunState::Waiting(w) if w.contains("production"))
    );
    assert_eq!(run_state(&run("in_progress", None), "p"), RunState::Running);
    assert_eq!(run_state(&run("requested", None), "p"), RunState::Queued);
}

#[test]
fn a_run_is_found_by_its_whole_key_not_a_prefix() {
    let r = run("queued", None);
    assert!(carries_key(
        &r,
        &ActionKey::new("promotion-x/deploy/1").unwrap()
    ));
    assert!(!carries_key(
        &r,
        &ActionKey::new("promotion-x/deploy").unwrap()
    ));
}

#[test]
fn version_comes_from_the_payload_or_the_ref() {
    let d = |payload: serde_json::Value| wire::Deployment {
        id: 1,
        git_ref: "v1.2.0".into(),
        sha: "9f1c2e".into(),
        environment: "production".into(),
        payload,
        creator: None,
        created_at: chrono::Utc::now(),
    };
    let digest = format!("sha256:{}", "a".repeat(64));
    let (v, dg) = version_and_digest(&d(
        serde_json::json!({"version": "1.2.1", "digest": digest}),
    ));
    assert_eq!(v, "1.2.1");
    assert!(dg.is_some());
    let (v, dg) = version_and_digest(&d(serde_json::json!(r#"{"version":"9"}"#)));
    assert_eq!((v.as_str(), dg), ("9", None));
    let (v, _) = version_and_digest(&d(serde_json::json!({})));
    assert_eq!(v, "v1.2.0");
    let (_, dg) = version_and_digest(&d(serde_json::json!({"digest": "not a digest"})));
    assert_eq!(dg, None);
}

#[test]
fn the_pull_request_comes_from_a_merge_or_a_squash_title() {
    assert_eq!(
        pull_request_of("Merge pull request #123 from acme/fix\n\nFix it"),
        Some(123)
    );
    assert_eq!(
        pull_request_of("Fix the totals (#88)\n\n* detail"),
        Some(88)
    );
    assert_eq!(pull_request_of("Fix the totals"), None);
    assert_eq!(pull_request_of("Fix (#x)"), None);
    assert_eq!(pull_request_of(""), None);
}

#[test]
fn a_compared_ref_cannot_change_the_range() {
    assert!(git_ref("v1.4.2").is_ok() && git_ref("release/1.4").is_ok());
    for bad in ["", "a..b", "v1 2", "x?y", "a...b"] {
        assert!(git_ref(bad).is_err(), "{bad}");
    }
}
