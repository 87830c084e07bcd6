use super::*;
use release_desk_domain::Environment;

pub(crate) fn path() -> PathToLive {
    PathToLive::new(vec![
        Environment::new("dev", "Development", false).unwrap(),
        Environment::new("test", "Test", false).unwrap(),
        Environment::new("uat", "UAT", false).unwrap(),
        Environment::new("production", "Production", true).unwrap(),
    ])
    .unwrap()
}

fn slug(s: &str) -> Slug {
    Slug::parse(s).unwrap()
}

fn draft(kind: ConnectionKind, base_url: Option<&str>) -> ConnectionDraft {
    ConnectionDraft {
        kind,
        name: "  acme-org  ".into(),
        base_url: base_url.map(str::to_owned),
        settings: BTreeMap::new(),
        reach: None,
    }
}

pub(crate) fn connection(reach: Option<&str>) -> Connection {
    Connection {
        id: ConnectionId(7),
        kind: ConnectionKind::Github,
        name: "acme lower".into(),
        base_url: "https://api.github.com".into(),
        settings: BTreeMap::new(),
        reach: reach.map(slug),
    }
}

#[test]
fn github_defaults_to_github_com_and_an_enterprise_server_names_its_own() {
    let v = draft(ConnectionKind::Github, None)
        .validate(&path())
        .unwrap();
    assert_eq!(v.base_url, "https://api.github.com");
    assert_eq!(v.name, "acme-org");
    let v = draft(
        ConnectionKind::Github,
        Some("https://github.acme.example/api/v3/"),
    )
    .validate(&path())
    .unwrap();
    assert_eq!(v.base_url, "https://github.acme.example/api/v3");
    let e = draft(ConnectionKind::Servicenow, None)
        .validate(&path())
        .unwrap_err();
    assert!(e.to_string().contains("needs the URL"), "{e}");
}

#[test]
fn a_token_never_travels_in_clear_text_or_in_the_url() {
    for (url, says) in [
        ("http://github.acme.example", "use https"),
        (
            "https://me:ghp_secret@github.acme.example",
            "user name and password",
        ),
        (
            "https://ghp_secret@github.acme.example",
            "user name and password",
        ),
        ("https://api.github.com?access_token=x", "no query"),
        ("ftp://api.github.com", "not http or https"),
        ("not a url", "not a URL"),
    ] {
        let e = draft(ConnectionKind::Github, Some(url))
            .validate(&path())
            .unwrap_err();
        assert!(e.to_string().contains(says), "{url}: {e}");
        assert!(
            !e.to_string().contains("ghp_secret"),
            "{url}: the error repeats the secret: {e}"
        );
    }
    // A local mock or test server on this computer may use plain http.
    for url in [
        "http://127.0.0.1:4010",
        "http://localhost:4010/api",
        "http://[::1]:4010",
    ] {
        assert!(
            draft(ConnectionKind::Github, Some(url))
                .validate(&path())
                .is_ok(),
            "{url}"
        );
    }
}

#[test]
fn secrets_are_refused_as_settings() {
    for key in [
        "token",
        "api_token",
        "client-secret",
        "password",
        "pat",
        "apikey",
    ] {
        let mut d = draft(ConnectionKind::AzureDevops, None);
        d.settings.insert(key.into(), "x".into());
        let e = d.validate(&path()).unwrap_err();
        assert!(e.to_string().contains("keyring"), "{key}: {e}");
    }
    let mut d = draft(ConnectionKind::AzureDevops, None);
    d.settings.insert("organisation".into(), "acme".into());
    d.settings.insert("project".into(), "payments".into());
    d.settings.insert("patience".into(), "high".into()); // not a secret word
    assert!(d.validate(&path()).is_ok());
    let mut d = draft(ConnectionKind::AzureDevops, None);
    d.settings.insert("Bad Key".into(), "x".into());
    assert!(d.validate(&path()).is_err());
    let mut d = draft(ConnectionKind::AzureDevops, None);
    d.settings.insert("org".into(), "line\nbreak".into());
    assert!(d.validate(&path()).is_err());
}

#[test]
fn the_reach_must_be_a_stage_of_the_path() {
    let mut d = draft(ConnectionKind::Github, None);
    d.reach = Some(slug("staging"));
    let e = d.validate(&path()).unwrap_err();
    assert!(e.to_string().contains("not a stage"), "{e}");
}

#[test]
fn a_connection_limited_to_lower_stages_is_never_used_against_a_higher_one() {
    let lower = connection(Some("test"));
    for env in ["dev", "test"] {
        assert!(may_reach(&lower, &slug(env), &path()).is_ok(), "{env}");
    }
    for env in ["uat", "production"] {
        let e = may_reach(&lower, &slug(env), &path()).unwrap_err();
        assert_eq!(e.code(), "connection_out_of_reach");
        assert!(e.to_string().contains("never used against"), "{e}");
    }
    // An environment not on the path is refused, never assumed low.
    assert!(may_reach(&lower, &slug("sandbox"), &path()).is_err());
    // No reach: every stage.
    assert!(may_reach(&connection(None), &slug("production"), &path()).is_ok());
}

#[test]
fn kinds_round_trip_and_name_their_capabilities() {
    for kind in ConnectionKind::ALL {
        assert_eq!(ConnectionKind::parse(kind.key()), Some(kind));
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.key());
        assert!(!kind.capabilities().is_empty());
    }
    assert!(ConnectionKind::Servicenow
        .capabilities()
        .contains(&Capability::ChangeRecords));
    assert!(!ConnectionKind::AwsSsm
        .capabilities()
        .contains(&Capability::Approvals));
    assert_eq!(keyring_account(ConnectionId(3)), "connection-3");
}

proptest::proptest! {
    /// Whatever is typed as a URL or a setting, validation answers (never
    /// panics), and an accepted URL is https or loopback http.
    #[test]
    fn validation_never_panics(url in ".{0,60}", key in ".{0,12}", value in ".{0,20}") {
        let mut d = draft(ConnectionKind::Github, Some(&url));
        d.settings.insert(key, value);
        if let Ok(v) = d.validate(&path()) {
            proptest::prop_assert!(
                v.base_url.starts_with("https://") || v.base_url.starts_with("http://"),
                "{}", v.base_url
            );
        }
    }
}
