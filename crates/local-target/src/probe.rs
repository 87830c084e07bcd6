//! Single HTTP requests to a leg or a proxy, each with a deadline, reporting
//! status, the version header, which upstream nginx used, and time taken.

use std::time::{Duration, Instant};

use crate::error::{io, Result};

/// The header every sample service response carries.
pub const VERSION_HEADER: &str = "x-release-version";
/// The header nginx adds naming the leg address that answered.
pub const UPSTREAM_HEADER: &str = "x-release-desk-upstream";

/// How long one probe may take.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A client that opens a new connection for every request. Checks use it so
/// each one sees the current state: a kept-alive connection could still be
/// held by an nginx worker running the previous configuration.
pub(crate) fn fresh_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(PROBE_TIMEOUT)
        .connect_timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| io(format!("could not build an HTTP client: {e}")))
}

/// What one request found.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: u16,
    pub version: Option<String>,
    pub upstream: Option<String>,
    pub elapsed: Duration,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
) -> std::result::Result<Answer, String> {
    let start = Instant::now();
    let response = client.get(url).send().await.map_err(|e| describe(&e))?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let version = header(VERSION_HEADER);
    let upstream = header(UPSTREAM_HEADER);
    let status = response.status().as_u16();
    // Read the body so the request is complete before it is timed.
    response.bytes().await.map_err(|e| describe(&e))?;
    Ok(Answer {
        status,
        version,
        upstream,
        elapsed: start.elapsed(),
    })
}

/// A short reason for a failed request: reqwest's own messages bury the
/// cause under the URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "connection refused".to_owned()
    } else {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}
