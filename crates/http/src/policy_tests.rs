use super::*;

const NOW: u64 = 1_796_000_000;

fn answer(status: u16) -> Answer {
    Answer {
        status,
        ..Answer::default()
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

#[test]
fn success_and_not_modified_are_done() {
    for s in [200, 201, 204, 304] {
        assert_eq!(
            policy().after_answer(Method::Get, 1, &answer(s), NOW, 0.5),
            Next::Done
        );
    }
}

#[test]
fn a_post_is_never_repeated_after_a_server_error_or_a_timeout() {
    for method in [Method::Post, Method::Patch] {
        for s in [500, 502, 503, 504] {
            assert_eq!(
                policy().after_answer(method, 1, &answer(s), NOW, 0.5),
                Next::GiveUp(GiveUp::MaybeApplied),
                "{method:?} {s}"
            );
        }
        assert_eq!(
            policy().after_no_answer(method, 1, NoAnswer::Timeout, 0.5),
            Next::GiveUp(GiveUp::MaybeApplied)
        );
        // Nothing was sent: trying again cannot act twice.
        assert!(matches!(
            policy().after_no_answer(method, 1, NoAnswer::Connect, 0.5),
            Next::RetryAfter(_)
        ));
    }
}

#[test]
fn reads_are_retried_with_growing_jittered_backoff_until_attempts_run_out() {
    let p = policy();
    let waits: Vec<Duration> = (1..p.max_attempts)
        .map(
            |attempt| match p.after_answer(Method::Get, attempt, &answer(503), NOW, 0.999) {
                Next::RetryAfter(d) => d,
                other => panic!("attempt {attempt}: {other:?}"),
            },
        )
        .collect();
    assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
    assert!(waits.iter().all(|w| *w <= p.cap));
    assert_eq!(
        p.after_answer(Method::Get, p.max_attempts, &answer(503), NOW, 0.5),
        Next::GiveUp(GiveUp::Failed { status: Some(503) })
    );
    // Full jitter: no wait at all is possible, never more than the ceiling.
    assert_eq!(
        p.after_answer(Method::Get, 1, &answer(500), NOW, 0.0),
        Next::RetryAfter(Duration::ZERO)
    );
}

#[test]
fn a_rate_limit_waits_exactly_what_the_provider_says_even_for_a_post() {
    let p = policy();
    let retry_after = Answer {
        status: 429,
        retry_after: Some("7".into()),
        ..Answer::default()
    };
    assert_eq!(
        p.after_answer(Method::Post, 1, &retry_after, NOW, 0.5),
        Next::RetryAfter(Duration::from_secs(7))
    );
    // GitHub's primary limit: 403 with no requests left, until the reset.
    let exhausted = Answer {
        status: 403,
        rate_limit_remaining: Some(0),
        rate_limit_reset: Some(NOW + 30),
        ..Answer::default()
    };
    assert_eq!(
        p.after_answer(Method::Get, 1, &exhausted, NOW, 0.5),
        Next::RetryAfter(Duration::from_secs(31))
    );
    // Retry-After as an HTTP date.
    let date = httpdate::fmt_http_date(std::time::UNIX_EPOCH + Duration::from_secs(NOW + 12));
    let dated = Answer {
        status: 403,
        retry_after: Some(date),
        ..Answer::default()
    };
    assert_eq!(
        p.after_answer(Method::Get, 1, &dated, NOW, 0.5),
        Next::RetryAfter(Duration::from_secs(12))
    );
    // Longer than the client waits: it says how long instead.
    let long = Answer {
        status: 429,
        retry_after: Some("3600".into()),
        ..Answer::default()
    };
    assert_eq!(
        p.after_answer(Method::Get, 1, &long, NOW, 0.5),
        Next::GiveUp(GiveUp::RateLimited { wait_secs: 3600 })
    );
}

#[test]
fn refusals_are_named_and_never_retried() {
    let p = policy();
    assert_eq!(
        p.after_answer(Method::Get, 1, &answer(401), NOW, 0.5),
        Next::GiveUp(GiveUp::Unauthorised)
    );
    assert_eq!(
        p.after_answer(Method::Get, 1, &answer(403), NOW, 0.5),
        Next::GiveUp(GiveUp::Forbidden)
    );
    assert_eq!(
        p.after_answer(Method::Get, 1, &answer(404), NOW, 0.5),
        Next::GiveUp(GiveUp::NotFound)
    );
    assert_eq!(
        p.after_answer(Method::Post, 1, &answer(422), NOW, 0.5),
        Next::GiveUp(GiveUp::Failed { status: Some(422) })
    );
}

proptest::proptest! {
    /// Whatever comes back, a POST or PATCH is repeated only when the
    /// provider refused it without acting (a rate limit) or it was never
    /// sent; and no wait is ever longer than the policy allows.
    #[test]
    fn a_write_is_never_repeated_blindly(
        status in 100u16..600,
        retry_after in proptest::option::of("[0-9]{0,6}|[ -~]{0,30}"),
        remaining in proptest::option::of(0u64..5),
        reset in proptest::option::of(0u64..3_000_000_000),
        attempt in 1u32..6,
        jitter in 0.0f64..1.0,
    ) {
        let p = policy();
        let a = Answer { status, retry_after, rate_limit_remaining: remaining, rate_limit_reset: reset };
        for method in [Method::Post, Method::Patch, Method::Get] {
            match p.after_answer(method, attempt, &a, NOW, jitter) {
                Next::RetryAfter(wait) => {
                    proptest::prop_assert!(wait <= p.max_wait.max(p.cap));
                    if matches!(method, Method::Post | Method::Patch) {
                        proptest::prop_assert!(status == 429 || status == 403, "{method:?} retried after {status}");
                    }
                }
                Next::Done => proptest::prop_assert!((200..400).contains(&status)),
                Next::GiveUp(_) => {}
            }
        }
    }
}

#[test]
fn pacing_starts_only_when_a_tenth_of_the_quota_is_left() {
    assert_eq!(pace(5000, 5000, NOW + 3600, NOW), Duration::ZERO);
    assert_eq!(pace(500, 5000, NOW + 3600, NOW), Duration::ZERO);
    assert_eq!(pace(100, 5000, NOW + 3600, NOW), Duration::from_secs(36));
    assert_eq!(pace(0, 5000, NOW + 60, NOW), Duration::from_secs(61));
    assert_eq!(
        pace(10, 0, NOW + 60, NOW),
        Duration::ZERO,
        "no limit reported"
    );
    assert_eq!(
        pace(1, 5000, NOW - 5, NOW),
        Duration::ZERO,
        "reset already passed"
    );
}
