//! One HTTP client for every provider adapter: reqwest with rustls, the
//! retry rules of [`crate::policy`], conditional requests, paging, pacing
//! and capped reads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::error::{HttpError, HttpErrorKind, Result};
use crate::etag::{token_fingerprint, Cached, EtagCache};
use crate::link::next_link;
use crate::policy::{self, Answer, GiveUp, Method, Next, NoAnswer, RetryPolicy};

/// How the client proves who it is.
#[derive(Clone)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <token>` (GitHub, Kubernetes, Azure).
    Bearer(SecretString),
    /// `Authorization: Basic` (Azure DevOps PATs, ServiceNow).
    Basic {
        user: String,
        password: SecretString,
    },
}

impl Auth {
    fn secret(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::Bearer(t) => Some(t.expose_secret()),
            Self::Basic { password, .. } => Some(password.expose_secret()),
        }
    }

    fn header(&self) -> Option<HeaderValue> {
        let text = match self {
            Self::None => return None,
            Self::Bearer(t) => format!("Bearer {}", t.expose_secret()),
            Self::Basic { user, password } => {
                use base64::Engine as _;
                let pair = format!("{user}:{}", password.expose_secret());
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                )
            }
        };
        let mut value = HeaderValue::from_str(&text).ok()?;
        // Kept out of reqwest's and hyper's debug output.
        value.set_sensitive(true);
        Some(value)
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "Auth::None",
            Self::Bearer(_) => "Auth::Bearer(…)",
            Self::Basic { .. } => "Auth::Basic(…)",
        })
    }
}

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Who is being asked, as a person reads it: "GitHub acme-org".
    pub provider: String,
    /// The API root, e.g. `https://api.github.com`.
    pub base_url: String,
    pub auth: Auth,
    /// Sent with every request, e.g. `Accept` and an API version.
    pub headers: Vec<(String, String)>,
    pub connect_timeout: Duration,
    /// The deadline of one request, body included.
    pub request_timeout: Duration,
    /// No answer body larger than this is read.
    pub max_body_bytes: usize,
    /// A list is followed for at most this many pages.
    pub max_pages: usize,
    pub policy: RetryPolicy,
}

impl ClientConfig {
    pub fn new(provider: impl Into<String>, base_url: impl Into<String>, auth: Auth) -> Self {
        Self {
            provider: provider.into(),
            base_url: base_url.into(),
            auth,
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 8 * 1024 * 1024,
            max_pages: 100,
            policy: RetryPolicy::default(),
        }
    }
}

/// What the provider said about its quota in the last answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    pub reset_epoch_secs: u64,
}

/// Counts since the client was made, for progress and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests sent, retries included.
    pub requests: u64,
    /// Answers that were `304 Not Modified`.
    pub not_modified: u64,
    pub retries: u64,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The provider said `304`: `body` is the answer kept from before.
    pub not_modified: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A decoded answer and whether it was unchanged since the last time.
#[derive(Debug, Clone)]
pub struct Fetched<T> {
    pub value: T,
    pub not_modified: bool,
}

/// Every item of a paged list.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub pages: usize,
    /// Every page was `304 Not Modified`: nothing changed.
    pub unchanged: bool,
}

pub struct Client {
    http: reqwest::Client,
    config: ClientConfig,
    base: Url,
    auth_header: Option<HeaderValue>,
    token_fp: String,
    headers: HeaderMap,
    etags: Mutex<EtagCache>,
    rate: Mutex<Option<RateLimit>>,
    requests: AtomicU64,
    not_modified: AtomicU64,
    retries: AtomicU64,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self> {
        let setup = |message: String| HttpError {
            kind: HttpErrorKind::Rejected { status: 0 },
            endpoint: String::new(),
            message,
        };
        let base = Url::parse(config.base_url.trim_end_matches('/'))
            .map_err(|e| setup(format!("'{}' is not a URL: {e}", config.base_url)))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| setup(format!("'{name}' is not a header name")))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| setup(format!("the value of {name} is not a header value")))?;
            headers.insert(name, value);
        }
        let auth_header = config.auth.header();
        if auth_header.is_none() && !matches!(config.auth, Auth::None) {
            return Err(setup(
                "the token holds characters a header cannot carry (a line break?): set it again in Settings → Connections".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("ReleaseDesk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // reqwest drops Authorization when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| setup(format!("the HTTP client could not start: {e}")))?;
        Ok(Self {
            http,
            auth_header,
            token_fp: config
                .auth
                .secret()
                .map(token_fingerprint)
                .unwrap_or_default(),
            base,
            headers,
            etags: Mutex::new(EtagCache::new(4096, 64 * 1024 * 1024)),
            rate: Mutex::new(None),
            requests: AtomicU64::new(0),
            not_modified: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            config,
        })
    }

    pub fn provider(&self) -> &str {
        &self.config.provider
    }

    pub fn stats(&self) -> Stats {
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            not_modified: self.not_modified.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    pub fn rate_limit(&self) -> Option<RateLimit> {
        *lock(&self.rate)
    }

    /// The full URL of a path under the API root (`/user` → `…/user`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// A conditional GET: an unchanged resource costs a `304`.
    pub async fn get(&self, endpoint: &str, path: &str) -> Result<Response> {
        let url = self.url(path);
        self.execute(Method::Get, endpoint, &url, None).await
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        path: &str,
    ) -> Result<Fetched<T>> {
        let response = self.get(endpoint, path).await?;
        Ok(Fetched {
            value: self.decode(endpoint, &response.body)?,
            not_modified: response.not_modified,
        })
    }

    /// Follows `Link: rel="next"` from `path`, decoding each page as `W` and
    /// taking its items with `items` (a bare array, or a field of a wrapper).
    pub async fn get_pages<W, T>(
        &self,
        endpoint: &str,
        path: &str,
        items: impl Fn(W) -> Vec<T>,
    ) -> Result<Page<T>>
    where
        W: DeserializeOwned,
    {
        let mut url = self.url(path);
        let mut page = Page {
            items: Vec::new(),
            pages: 0,
            unchanged: true,
        };
        loop {
            let response = self.execute(Method::Get, endpoint, &url, None).await?;
            page.pages += 1;
            page.unchanged &= response.not_modified;
            page.items
                .extend(items(self.decode(endpoint, &response.body)?));
            let Some(next) = response.header("link").and_then(next_link) else {
                return Ok(page);
            };
            if page.pages >= self.config.max_pages {
                return Err(self.error(
                    endpoint,
                    HttpErrorKind::Malformed,
                    format!(
                        "{} has more than {} pages at {endpoint}; Release Desk read the first {} and stopped. Narrow the binding (fewer repositories or environments).",
                        self.config.provider, self.config.max_pages, self.config.max_pages
                    ),
                ));
            }
            url = self.same_origin(endpoint, &next)?;
        }
    }

    /// A write. POST and PATCH are never repeated after an unclear answer.
    pub async fn send(
        &self,
        method: Method,
        endpoint: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let url = self.url(path);
        self.execute(method, endpoint, &url, body).await
    }

    pub fn decode<T: DeserializeOwned>(&self, endpoint: &str, body: &[u8]) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let at = if at == "." { "the top level".to_string() } else { format!("`{at}`") };
            self.error(
                endpoint,
                HttpErrorKind::Malformed,
                format!(
                    "{} answered {endpoint} with something Release Desk cannot read at {at}: {}. Nothing was changed; if this persists the provider's API may have changed.",
                    self.config.provider,
                    e.inner()
                ),
            )
        })
    }

    /// A `Link` target must stay on the provider's origin: a hostile answer
    /// must not send the token elsewhere.
    fn same_origin(&self, endpoint: &str, next: &str) -> Result<String> {
        let url = Url::parse(next).or_else(|_| self.base.join(next));
        match url {
            Ok(url) if url.origin() == self.base.origin() => Ok(url.to_string()),
            _ => Err(self.error(
                endpoint,
                HttpErrorKind::Malformed,
                format!(
                    "{} pointed the next page of {endpoint} somewhere else ({}); Release Desk does not follow it with your token.",
                    self.config.provider,
                    self.scrub(next).chars().take(120).collect::<String>()
                ),
            )),
        }
    }

    async fn execute(
        &self,
        method: Method,
        endpoint: &str,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response> {
        let cached = (method == Method::Get)
            .then(|| lock(&self.etags).get(&self.token_fp, url).cloned())
            .flatten();
        let body = match body {
            Some(v) => Some(serde_json::to_vec(v).map_err(|e| {
                self.error(
                    endpoint,
                    HttpErrorKind::Rejected { status: 0 },
                    e.to_string(),
                )
            })?),
            None => None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_quota(endpoint).await?;
            let mut request = self
                .http
                .request(reqwest_method(method), url)
                .headers(self.headers.clone());
            if let Some(auth) = &self.auth_header {
                request = request.header(reqwest::header::AUTHORIZATION, auth.clone());
            }
            if let Some(c) = &cached {
                request = request.header(reqwest::header::IF_NONE_MATCH, &c.etag);
            }
            if let Some(bytes) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(bytes.clone());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let what = if e.is_connect() {
                        NoAnswer::Connect
                    } else {
                        // Sent, or perhaps sent: the provider may have acted.
                        NoAnswer::Timeout
                    };
                    match self
                        .config
                        .policy
                        .after_no_answer(method, attempt, what, fastrand::f64())
                    {
                        Next::RetryAfter(wait) => {
                            self.retry_after(endpoint, wait).await;
                            continue;
                        }
                        Next::Done => unreachable!("no answer is never done"),
                        Next::GiveUp(why) => {
                            return Err(self.give_up(endpoint, url, why, None, &e.to_string()))
                        }
                    }
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let answer = self.note_rate_limit(status, &headers);
            let next = self.config.policy.after_answer(
                method,
                attempt,
                &answer,
                now_secs(),
                fastrand::f64(),
            );
            match next {
                Next::RetryAfter(wait) => {
                    self.retry_after(endpoint, wait).await;
                    continue;
                }
                Next::GiveUp(why) => {
                    let text = self.read_body(endpoint, response).await.unwrap_or_default();
                    let said = provider_message(&text, |t| self.scrub(t));
                    return Err(self.give_up(endpoint, url, why, Some(status), &said));
                }
                Next::Done => {}
            }
            let bytes = self.read_body(endpoint, response).await?;
            if status == 304 {
                let Some(c) = cached else {
                    return Err(self.error(
                        endpoint,
                        HttpErrorKind::Malformed,
                        format!(
                            "{} answered {endpoint} with 304 Not Modified to a request that was not conditional.",
                            self.config.provider
                        ),
                    ));
                };
                self.not_modified.fetch_add(1, Ordering::Relaxed);
                // The kept answer's headers, updated by what the 304 says
                // (its rate limit, a new ETag).
                let mut merged = c.headers;
                for (name, value) in &headers {
                    merged.insert(name.clone(), value.clone());
                }
                return Ok(Response {
                    status: 200,
                    headers: merged,
                    body: c.body,
                    not_modified: true,
                });
            }
            if method == Method::Get {
                if let Some(etag) = headers.get("etag").and_then(|v| v.to_str().ok()) {
                    lock(&self.etags).put(
                        &self.token_fp,
                        url,
                        Cached {
                            etag: etag.to_string(),
                            body: bytes.clone(),
                            headers: headers.clone(),
                        },
                    );
                }
            }
            return Ok(Response {
                status,
                headers,
                body: bytes,
                not_modified: false,
            });
        }
    }

    async fn retry_after(&self, endpoint: &str, wait: Duration) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        tracing::info!(provider = %self.config.provider, endpoint, wait_ms = wait.as_millis() as u64, "retrying");
        tokio::time::sleep(wait).await;
    }

    /// Slows down as the quota runs low; refuses to send when it would have
    /// to wait longer than the policy allows.
    async fn wait_for_quota(&self, endpoint: &str) -> Result<()> {
        let Some(rate) = self.rate_limit() else {
            return Ok(());
        };
        let wait = policy::pace(
            rate.remaining,
            rate.limit,
            rate.reset_epoch_secs,
            now_secs(),
        );
        if wait > self.config.policy.max_wait {
            return Err(self.give_up(
                endpoint,
                "",
                GiveUp::RateLimited {
                    wait_secs: wait.as_secs(),
                },
                None,
                "",
            ));
        }
        if !wait.is_zero() {
            tracing::info!(provider = %self.config.provider, wait_ms = wait.as_millis() as u64, remaining = rate.remaining, "pacing to stay within the rate limit");
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    fn note_rate_limit(&self, status: u16, headers: &HeaderMap) -> Answer {
        let num = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let answer = Answer {
            status,
            retry_after: headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            rate_limit_remaining: num("x-ratelimit-remaining"),
            rate_limit_reset: num("x-ratelimit-reset"),
        };
        if let (Some(limit), Some(remaining), Some(reset)) = (
            num("x-ratelimit-limit"),
            answer.rate_limit_remaining,
            answer.rate_limit_reset,
        ) {
            *lock(&self.rate) = Some(RateLimit {
                limit,
                remaining,
                reset_epoch_secs: reset,
            });
        }
        answer
    }

    async fn read_body(&self, endpoint: &str, mut response: reqwest::Response) -> Result<Vec<u8>> {
        let cap = self.config.max_body_bytes;
        let too_large = || {
            self.error(
                endpoint,
                HttpErrorKind::Malformed,
                format!(
                    "{} answered {endpoint} with more than {} MiB; Release Desk stopped reading. Narrow the request (fewer items per page).",
                    self.config.provider,
                    cap / (1024 * 1024)
                ),
            )
        };
        if response.content_length().is_some_and(|n| n as usize > cap) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if bytes.len() + chunk.len() > cap {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(bytes),
                Err(e) => {
                    return Err(self.error(
                        endpoint,
                        HttpErrorKind::Unavailable,
                        format!(
                            "{} stopped answering {endpoint} part-way ({e}). Try again; nothing was recorded from the partial answer.",
                            self.config.provider
                        ),
                    ))
                }
            }
        }
    }

    fn give_up(
        &self,
        endpoint: &str,
        url: &str,
        why: GiveUp,
        status: Option<u16>,
        said: &str,
    ) -> HttpError {
        let p = &self.config.provider;
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": \"{said}\"")
        };
        let (kind, message) = match why {
            GiveUp::Unauthorised => (
                HttpErrorKind::Unauthorised,
                format!("{p} refused the token at {endpoint} (401{said}). It is wrong, expired or revoked: set a new token in Settings → Connections."),
            ),
            GiveUp::Forbidden => (
                HttpErrorKind::Forbidden,
                format!("{p} forbade {endpoint} (403{said}). The token lacks a permission this needs: grant it, or use a token that has it."),
            ),
            GiveUp::NotFound => (
                HttpErrorKind::NotFound,
                format!("{p} found nothing at {endpoint} (404{said}). Check the binding's settings, and that the token can see it (private resources answer 404 to tokens that cannot)."),
            ),
            GiveUp::RateLimited { wait_secs } => {
                let until = now_secs().saturating_add(wait_secs);
                (
                    HttpErrorKind::RateLimited { until_epoch_secs: until },
                    format!("{p} is rate limiting this token for another {}; Release Desk will try again after that, and the cached data stays available.", human_wait(wait_secs)),
                )
            }
            GiveUp::MaybeApplied => (
                HttpErrorKind::MaybeApplied,
                format!(
                    "{p} gave no clear answer to {endpoint} ({}); it may have acted. Release Desk looks for the action before it ever repeats it.",
                    status.map_or("no answer in time".to_string(), |s| s.to_string())
                ),
            ),
            GiveUp::Failed { status: None } => {
                let host = Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
                (
                    HttpErrorKind::Unavailable,
                    format!("{p} could not be reached at {host} for {endpoint}. Check the network and the connection's URL; the cached data stays available."),
                )
            }
            GiveUp::Failed { status: Some(s) } if s >= 500 || s == 429 || s == 403 => (
                HttpErrorKind::Unavailable,
                format!("{p} kept failing {endpoint} ({s}{said}) after {} attempts. Try again later; the cached data stays available.", self.config.policy.max_attempts),
            ),
            GiveUp::Failed { status: Some(s) } => (
                HttpErrorKind::Rejected { status: s },
                format!("{p} rejected {endpoint} ({s}{said})."),
            ),
        };
        self.error(endpoint, kind, message)
    }

    /// Removes the credential from text, as sent and as Basic auth encodes it.
    fn scrub(&self, text: &str) -> String {
        let mut out = text.to_string();
        if let Some(secret) = self.config.auth.secret().filter(|s| !s.is_empty()) {
            out = out.replace(secret, "[redacted]");
        }
        if let Some(header) = &self.auth_header {
            if let Some(encoded) = header.to_str().ok().and_then(|h| h.strip_prefix("Basic ")) {
                out = out.replace(encoded, "[redacted]");
            }
        }
        out
    }

    /// Every error passes here, so no credential can reach its text.
    fn error(&self, endpoint: &str, kind: HttpErrorKind, message: String) -> HttpError {
        let message = self.scrub(&message);
        HttpError {
            kind,
            endpoint: endpoint.to_string(),
            message,
        }
    }
}

/// What the provider said in an error body: GitHub's `message`, Azure's
/// `message`, ServiceNow's `error.message`, else the start of the text.
fn provider_message(body: &[u8], scrub: impl Fn(&str) -> String) -> String {
    let said = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error").and_then(|e| e.get("message")))
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    // Scrubbed whole, before it is cut: a cut could leave a piece of the
    // secret that no longer matches it.
    let said = scrub(&said);
    let said: String = said.split_whitespace().collect::<Vec<_>>().join(" ");
    said.chars().take(200).collect()
}

fn human_wait(secs: u64) -> String {
    match secs {
        0..=90 => format!("{secs} s"),
        91..=5400 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h", secs.div_ceil(3600)),
    }
}

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A poisoned lock only means another request panicked mid-update of a
/// cache; the data is still a valid cache, so carry on with it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
