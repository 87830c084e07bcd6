//! The client against a local HTTP server (wiremock): paging, conditional
//! re-reads, rate limits, retries, writes never repeated blindly, hostile
//! answers, a revoked token and no network.

use std::time::{Duration, Instant};

use release_desk_http::{Auth, Client, ClientConfig, HttpErrorKind, Method, RetryPolicy};
use secrecy::SecretString;
use serde::Deserialize;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "ghp_thisIsTheSecretToken0123456789";

fn config(base: &str, token: &str) -> ClientConfig {
    let mut c = ClientConfig::new(
        "GitHub acme",
        base,
        Auth::Bearer(SecretString::from(token.to_string())),
    );
    c.policy = RetryPolicy {
        max_attempts: 3,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
    };
    c.request_timeout = Duration::from_millis(800);
    c
}

fn client(server: &MockServer) -> Client {
    Client::new(config(&server.uri(), TOKEN)).unwrap()
}

#[derive(Debug, Deserialize, PartialEq)]
struct Item {
    id: u64,
}

fn no_token_in(text: &str) {
    assert!(!text.contains(TOKEN), "the token leaked into: {text}");
}

async fn requests_to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn every_page_is_followed_by_its_link() {
    let server = MockServer::start().await;
    for page in 1..=3u64 {
        let mut answer = ResponseTemplate::new(200).set_body_json(serde_json::json!([
            {"id": page * 10}, {"id": page * 10 + 1}
        ]));
        if page < 3 {
            answer = answer.insert_header(
                "link",
                format!(
                    "<{}/items?page={}>; rel=\"next\", <{}/items?page=3>; rel=\"last\"",
                    server.uri(),
                    page + 1,
                    server.uri()
                )
                .as_str(),
            );
        }
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(query_param("page", page.to_string().as_str()))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(answer)
            .mount(&server)
            .await;
    }
    let page = client(&server)
        .get_pages("GET /items", "/items?page=1", |v: Vec<Item>| v)
        .await
        .unwrap();
    assert_eq!(page.pages, 3);
    let ids: Vec<u64> = page.items.iter().map(|i| i.id).collect();
    assert_eq!(ids, [10, 11, 20, 21, 30, 31]);
    assert!(!page.unchanged);
}

#[tokio::test]
async fn an_unchanged_resource_is_asked_for_conditionally_and_costs_a_304() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/thing"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"v1\""))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/thing"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_json(serde_json::json!({"id": 7})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server);
    let first = c.get_json::<Item>("GET /thing", "/thing").await.unwrap();
    assert!(!first.not_modified);
    let again = c.get_json::<Item>("GET /thing", "/thing").await.unwrap();
    assert!(again.not_modified, "the second read was not conditional");
    assert_eq!(again.value, Item { id: 7 });
    assert_eq!(c.stats().not_modified, 1);

    // Another token never sends this token's ETag (GitHub ties them).
    let other = Client::new(config(&server.uri(), "ghp_anotherToken")).unwrap();
    let theirs = other
        .get_json::<Item>("GET /thing", "/thing")
        .await
        .unwrap();
    assert!(!theirs.not_modified);
    let sent = requests_to(&server, "/thing").await;
    let last = sent.last().unwrap();
    assert!(last.headers.get("if-none-match").is_none());
}

#[tokio::test]
async fn a_secondary_rate_limit_waits_exactly_what_retry_after_says() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "1")
                .set_body_json(
                    serde_json::json!({"message": "You have exceeded a secondary rate limit"}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 1})))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server);
    let started = Instant::now();
    let got = c
        .get_json::<Item>("GET /limited", "/limited")
        .await
        .unwrap();
    assert_eq!(got.value.id, 1);
    assert!(started.elapsed() >= Duration::from_secs(1), "did not wait");
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_client_waits_gives_up_at_once_even_for_a_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/dispatch"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .send(
            Method::Post,
            "POST /dispatch",
            "/dispatch",
            Some(&serde_json::json!({"ref": "main"})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, HttpErrorKind::RateLimited { .. }),
        "{err:?}"
    );
    assert!(err.message.contains("60 min"), "{}", err.message);
    assert_eq!(requests_to(&server, "/dispatch").await.len(), 1);
}

#[tokio::test]
async fn a_read_is_retried_after_a_server_error_and_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"id": 2})))
        .with_priority(2)
        .mount(&server)
        .await;
    let c = client(&server);
    assert_eq!(
        c.get_json::<Item>("GET /flaky", "/flaky")
            .await
            .unwrap()
            .value
            .id,
        2
    );
    assert_eq!(requests_to(&server, "/flaky").await.len(), 2);
}

#[tokio::test]
async fn a_post_that_times_out_or_fails_is_never_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(204).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/broken"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let c = client(&server);
    let body = serde_json::json!({"ref": "main"});
    for p in ["/slow", "/broken"] {
        let err = c
            .send(Method::Post, "POST", p, Some(&body))
            .await
            .unwrap_err();
        assert_eq!(err.kind, HttpErrorKind::MaybeApplied, "{p}: {err:?}");
        assert!(err.message.contains("may have acted"), "{}", err.message);
        assert_eq!(requests_to(&server, p).await.len(), 1, "{p} was repeated");
    }
}

#[tokio::test]
async fn malformed_json_names_the_endpoint_and_the_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"[{"id": 1}, {"id": "two"}]"#))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/cut"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"[{"id": 1}, {"id""#))
        .mount(&server)
        .await;
    let c = client(&server);
    let err = c
        .get_json::<Vec<Item>>("GET /items", "/items")
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Malformed);
    assert!(
        err.message.contains("GET /items") && err.message.contains("`[1].id`"),
        "{}",
        err.message
    );
    let err = c
        .get_json::<Vec<Item>>("GET /cut", "/cut")
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Malformed, "{err:?}");
}

#[tokio::test]
async fn an_oversized_answer_is_not_read_past_the_cap() {
    let server = MockServer::start().await;
    let big = format!("[{}]", vec![r#"{"id":1}"#; 200_000].join(","));
    Mock::given(method("GET"))
        .and(path("/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_string(big))
        .mount(&server)
        .await;
    let mut cfg = config(&server.uri(), TOKEN);
    cfg.max_body_bytes = 1024 * 1024;
    let c = Client::new(cfg).unwrap();
    let err = c
        .get_json::<Vec<Item>>("GET /huge", "/huge")
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Malformed);
    assert!(err.message.contains("more than 1 MiB"), "{}", err.message);
}

#[tokio::test]
async fn a_token_revoked_mid_sync_stops_it_with_what_to_do_and_never_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{}/items?page=2>; rel=\"next\"", server.uri()).as_str(),
                )
                .set_body_json(serde_json::json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"message": format!("Bad credentials: {TOKEN}")})),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .get_pages("GET /items", "/items?page=1", |v: Vec<Item>| v)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unauthorised);
    assert!(
        err.message.contains("Settings → Connections"),
        "{}",
        err.message
    );
    assert!(err.message.contains("[redacted]"), "{}", err.message);
    no_token_in(&err.message);
    no_token_in(&format!("{err:?}"));
    assert_eq!(
        requests_to(&server, "/items").await.len(),
        2,
        "a 401 is not retried"
    );
}

#[tokio::test]
async fn offline_is_unavailable_after_a_few_tries_and_names_the_host() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::new(config(&format!("http://127.0.0.1:{port}"), TOKEN)).unwrap();
    let err = c.get_json::<Item>("GET /user", "/user").await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unavailable, "{err:?}");
    assert!(
        err.message.contains("127.0.0.1") && err.message.contains("cached data"),
        "{}",
        err.message
    );
    assert_eq!(c.stats().requests, 3, "attempts");
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_not_followed_with_the_token() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{}/steal?page=2>; rel=\"next\"", elsewhere.uri()).as_str(),
                )
                .set_body_json(serde_json::json!([{"id": 1}])),
        )
        .mount(&server)
        .await;
    let err = client(&server)
        .get_pages("GET /items", "/items", |v: Vec<Item>| v)
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Malformed);
    assert!(elsewhere
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty());
}

#[tokio::test]
async fn an_exhausted_quota_is_not_spent_further_until_it_resets() {
    let server = MockServer::start().await;
    let reset = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    Mock::given(method("GET"))
        .and(path("/one"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(serde_json::json!({"id": 1})),
        )
        .mount(&server)
        .await;
    let c = client(&server);
    c.get_json::<Item>("GET /one", "/one").await.unwrap();
    assert_eq!(c.rate_limit().unwrap().remaining, 0);
    let err = c.get_json::<Item>("GET /one", "/one").await.unwrap_err();
    assert!(
        matches!(err.kind, HttpErrorKind::RateLimited { .. }),
        "{err:?}"
    );
    assert_eq!(
        requests_to(&server, "/one").await.len(),
        1,
        "sent into an empty quota"
    );
}

#[tokio::test]
async fn a_token_cut_short_in_a_long_refusal_still_never_shows() {
    let server = MockServer::start().await;
    let padded = format!("{} {TOKEN}", "x".repeat(190));
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(serde_json::json!({ "message": padded })),
        )
        .mount(&server)
        .await;
    let err = client(&server).get("GET /user", "/user").await.unwrap_err();
    assert!(
        !err.message.contains(&TOKEN[..8]),
        "a piece of the token leaked: {}",
        err.message
    );
}

#[tokio::test]
async fn a_304_without_headers_keeps_the_pages_links_and_the_answers_headers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(304))
        .with_priority(1)
        .mount(&server)
        .await;
    for page in 1..=2u64 {
        let mut answer = ResponseTemplate::new(200)
            .insert_header("etag", format!("\"p{page}\"").as_str())
            .insert_header("x-oauth-scopes", "repo")
            .set_body_json(serde_json::json!([{ "id": page }]));
        if page == 1 {
            answer = answer.insert_header(
                "link",
                format!("<{}/items?page=2>; rel=\"next\"", server.uri()).as_str(),
            );
        }
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(query_param("page", page.to_string().as_str()))
            .respond_with(answer)
            .with_priority(2)
            .mount(&server)
            .await;
    }
    let c = client(&server);
    let first = c
        .get_pages("GET /items", "/items?page=1", |v: Vec<Item>| v)
        .await
        .unwrap();
    let again = c
        .get_pages("GET /items", "/items?page=1", |v: Vec<Item>| v)
        .await
        .unwrap();
    assert_eq!(
        first.items, again.items,
        "the unchanged re-read stopped at page 1"
    );
    assert!(again.unchanged && again.pages == 2);
    let single = c.get("GET /items", "/items?page=2").await.unwrap();
    assert!(single.not_modified);
    assert_eq!(single.header("x-oauth-scopes"), Some("repo"));
}

#[test]
fn a_token_a_header_cannot_carry_is_refused_not_dropped() {
    let err = Client::new(config("https://api.github.com", "ghp_abc\n"))
        .err()
        .unwrap();
    assert!(err.message.contains("set it again"), "{}", err.message);
}

#[tokio::test]
async fn an_absurd_retry_after_is_a_rate_limit_not_a_panic() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "18446744073709551615"),
        )
        .mount(&server)
        .await;
    let err = client(&server).get("GET /x", "/x").await.unwrap_err();
    assert!(
        matches!(err.kind, HttpErrorKind::RateLimited { .. }),
        "{err:?}"
    );
}
