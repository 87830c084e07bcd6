//! Answers kept for conditional requests, keyed by token and URL.
//!
//! GitHub ties an ETag to the token that fetched it (github/docs#34689): a
//! cached answer fetched with one token is never offered to another, so a
//! rotated or second token starts fresh instead of getting a 304 it may not
//! see. The token itself is never kept, only a hash of it.

use std::collections::{HashMap, VecDeque};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub(crate) struct Cached {
    pub etag: String,
    pub body: Vec<u8>,
    /// The answer's headers (a `Link` to the next page, a token's scopes):
    /// a 304 need not repeat them.
    pub headers: reqwest::header::HeaderMap,
}

/// A bounded map: the oldest entries go first once the count or the bytes
/// held pass their limits.
#[derive(Debug)]
pub(crate) struct EtagCache {
    entries: HashMap<(String, String), Cached>,
    order: VecDeque<(String, String)>,
    bytes: usize,
    max_entries: usize,
    max_bytes: usize,
}

/// A short, one-way name for a token.
pub(crate) fn token_fingerprint(token: &str) -> String {
    hex::encode(&Sha256::digest(token.as_bytes())[..8])
}

impl EtagCache {
    pub fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            max_entries,
            max_bytes,
        }
    }

    pub fn get(&self, token: &str, url: &str) -> Option<&Cached> {
        self.entries.get(&(token.to_string(), url.to_string()))
    }

    pub fn put(&mut self, token: &str, url: &str, cached: Cached) {
        let key = (token.to_string(), url.to_string());
        if cached.body.len() > self.max_bytes {
            return;
        }
        if let Some(old) = self.entries.remove(&key) {
            self.bytes -= old.body.len();
            self.order.retain(|k| k != &key);
        }
        self.bytes += cached.body.len();
        self.entries.insert(key.clone(), cached);
        self.order.push_back(key);
        while self.entries.len() > self.max_entries || self.bytes > self.max_bytes {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(old) = self.entries.remove(&oldest) {
                self.bytes -= old.body.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: usize) -> Cached {
        Cached {
            etag: format!("\"{n}\""),
            body: vec![b'x'; n],
            headers: Default::default(),
        }
    }

    #[test]
    fn an_answer_is_only_offered_to_the_token_that_fetched_it() {
        let mut c = EtagCache::new(10, 1000);
        let (a, b) = (token_fingerprint("token-a"), token_fingerprint("token-b"));
        c.put(&a, "https://x/1", entry(3));
        assert!(c.get(&a, "https://x/1").is_some());
        assert!(c.get(&b, "https://x/1").is_none());
        assert!(!a.contains("token"));
    }

    #[test]
    fn the_oldest_go_first_when_count_or_bytes_run_over() {
        let mut c = EtagCache::new(2, 100);
        c.put("t", "1", entry(10));
        c.put("t", "2", entry(10));
        c.put("t", "3", entry(10));
        assert!(c.get("t", "1").is_none());
        assert!(c.get("t", "3").is_some());
        c.put("t", "4", entry(95));
        assert!(c.get("t", "2").is_none() && c.get("t", "3").is_none());
        assert_eq!(c.bytes, 95);
        c.put("t", "big", entry(101));
        assert!(c.get("t", "big").is_none(), "larger than the whole cache");
    }
}
