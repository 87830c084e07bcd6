//! When to try a provider request again, and when never to.
//!
//! Written by hand because the common retry middlewares get the two things
//! that matter here wrong: they retry a POST after a timeout or a 5xx (the
//! provider may already have acted: a workflow dispatched twice is two
//! deployments), and they back off on their own schedule instead of
//! waiting exactly as long as the provider says (`Retry-After`, or GitHub's
//! `X-RateLimit-Reset` when `X-RateLimit-Remaining` is 0). The rules:
//!
//! - a success or a `304 Not Modified` is done;
//! - `429`, or `403` with a rate-limit signal, waits exactly what the
//!   provider asks (never longer than [`RetryPolicy::max_wait`], when it
//!   gives up and says until when): the provider refused the request without
//!   acting, so even a POST may be sent again;
//! - a `5xx` or a timeout is retried, with exponential backoff and full
//!   jitter, only for methods that are safe to repeat (GET, HEAD, PUT,
//!   DELETE); for POST and PATCH it gives up and says the write may have
//!   happened, so the adapter looks for it (by its action key) first;
//! - a connection that could not be made sent nothing, so any method may be
//!   tried again;
//! - `401` says the token was refused (revoked or expired), `404` that the
//!   thing is not there, any other `4xx` what the provider said: none is
//!   retried.

use std::time::Duration;

/// The HTTP methods the adapters use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// Whether sending the request twice has the effect of sending it once.
    pub fn idempotent(self) -> bool {
        !matches!(self, Self::Post | Self::Patch)
    }
}

/// What came back, as far as retrying is concerned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// The `Retry-After` header: seconds, or an HTTP date.
    pub retry_after: Option<String>,
    /// `X-RateLimit-Remaining`.
    pub rate_limit_remaining: Option<u64>,
    /// `X-RateLimit-Reset`, seconds since the Unix epoch.
    pub rate_limit_reset: Option<u64>,
}

/// A request that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoAnswer {
    /// The connection could not be made: nothing was sent.
    Connect,
    /// Sent, but no answer in time: the provider may have acted.
    Timeout,
}

/// Why the client stops trying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GiveUp {
    /// 401: the token was refused.
    Unauthorised,
    /// 403 without a rate-limit signal.
    Forbidden,
    NotFound,
    /// Rate limited for longer than the client waits; seconds to wait.
    RateLimited {
        wait_secs: u64,
    },
    /// A write that may have been applied: look for it before repeating.
    MaybeApplied,
    /// Another 4xx, or the attempts ran out.
    Failed {
        status: Option<u16>,
    },
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Done,
    RetryAfter(Duration),
    GiveUp(GiveUp),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff's ceiling; each retry doubles it.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// The longest the client waits for a rate limit to lift.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(20),
            max_wait: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// After an answer to attempt `attempt` (1 for the first). `now_secs` is
    /// the Unix time, for `X-RateLimit-Reset` and an HTTP-date `Retry-After`;
    /// `jitter` is a random number in [0, 1).
    pub fn after_answer(
        &self,
        method: Method,
        attempt: u32,
        answer: &Answer,
        now_secs: u64,
        jitter: f64,
    ) -> Next {
        let status = answer.status;
        if (200..400).contains(&status) {
            return Next::Done;
        }
        if let Some(wait) = rate_limit_wait(answer, now_secs) {
            if wait > self.max_wait {
                return Next::GiveUp(GiveUp::RateLimited {
                    wait_secs: wait.as_secs(),
                });
            }
            if attempt >= self.max_attempts {
                return Next::GiveUp(GiveUp::Failed {
                    status: Some(status),
                });
            }
            // The provider refused without acting: any method may be resent.
            return Next::RetryAfter(wait);
        }
        match status {
            401 => Next::GiveUp(GiveUp::Unauthorised),
            403 => Next::GiveUp(GiveUp::Forbidden),
            404 => Next::GiveUp(GiveUp::NotFound),
            500..=599 => self.again_if_safe(method, attempt, Some(status), jitter),
            _ => Next::GiveUp(GiveUp::Failed {
                status: Some(status),
            }),
        }
    }

    /// After a request got no answer.
    pub fn after_no_answer(
        &self,
        method: Method,
        attempt: u32,
        what: NoAnswer,
        jitter: f64,
    ) -> Next {
        match what {
            NoAnswer::Connect if attempt < self.max_attempts => {
                Next::RetryAfter(self.backoff(attempt, jitter))
            }
            NoAnswer::Connect => Next::GiveUp(GiveUp::Failed { status: None }),
            NoAnswer::Timeout => self.again_if_safe(method, attempt, None, jitter),
        }
    }

    fn again_if_safe(
        &self,
        method: Method,
        attempt: u32,
        status: Option<u16>,
        jitter: f64,
    ) -> Next {
        if !method.idempotent() {
            return Next::GiveUp(GiveUp::MaybeApplied);
        }
        if attempt >= self.max_attempts {
            return Next::GiveUp(GiveUp::Failed { status });
        }
        Next::RetryAfter(self.backoff(attempt, jitter))
    }

    /// Full jitter: a random wait up to `base × 2^(attempt-1)`, capped.
    fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        exp.min(self.cap).mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// How long to pause before the next request so that what is left of the
/// quota lasts until it resets: nothing while more than a tenth remains, then
/// the time left spread evenly over the requests left, so a long sync slows
/// down instead of running into the wall.
pub fn pace(remaining: u64, limit: u64, reset_epoch_secs: u64, now_secs: u64) -> Duration {
    if limit == 0 || remaining.saturating_mul(10) >= limit {
        return Duration::ZERO;
    }
    let left = reset_epoch_secs.saturating_sub(now_secs);
    if remaining == 0 {
        return Duration::from_secs(left + 1);
    }
    Duration::from_secs_f64(left as f64 / remaining as f64)
}

/// How long a rate-limited answer asks to wait, if it is one: `429`, or a
/// `403` that carries `Retry-After` or an exhausted `X-RateLimit-Remaining`.
fn rate_limit_wait(answer: &Answer, now_secs: u64) -> Option<Duration> {
    let exhausted = answer.rate_limit_remaining == Some(0);
    let limited = answer.status == 429
        || (answer.status == 403 && (answer.retry_after.is_some() || exhausted));
    if !limited {
        return None;
    }
    if let Some(text) = answer.retry_after.as_deref().map(str::trim) {
        if let Ok(secs) = text.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        if let Ok(at) = httpdate::parse_http_date(text) {
            let at = at
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            return Some(Duration::from_secs(at.saturating_sub(now_secs)));
        }
    }
    if let (true, Some(reset)) = (exhausted, answer.rate_limit_reset) {
        // One second past the reset: GitHub's clock and ours are not one.
        return Some(Duration::from_secs(reset.saturating_sub(now_secs) + 1));
    }
    // GitHub's secondary limit without a time: wait at least a minute.
    Some(Duration::from_secs(60))
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
