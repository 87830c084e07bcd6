//! How Release Desk talks HTTP to providers.
//!
//! [`policy`] holds the pure rules (when to retry, how long to wait, when
//! never to repeat a request); [`Client`] applies them over one reqwest
//! stack with rustls, adding what the best API clients do: conditional
//! requests with ETags kept per token, `Link` pagination that never leaves
//! the provider's origin, a cap on every body read, pacing before a rate
//! limit runs out, and errors that name the endpoint and say what helps.

mod client;
mod error;
mod etag;
mod link;
pub mod policy;

pub use client::{Auth, Client, ClientConfig, Fetched, Page, RateLimit, Response, Stats};
pub use error::{HttpError, HttpErrorKind, Result};
pub use link::next_link;
pub use policy::{Answer, GiveUp, Method, Next, NoAnswer, RetryPolicy};
