//! The `Link` response header (RFC 8288), as GitHub and others page with it.
//!
//! Written by hand: only `rel="next"` is needed, and the crates that parse
//! the whole grammar pull in a URL parser we would then have to trust with
//! hostile input anyway. The property tests feed it arbitrary text.

/// The target of the `rel="next"` link, if there is one.
pub fn next_link(header: &str) -> Option<String> {
    split_links(header).into_iter().find_map(|part| {
        let part = part.trim();
        let rest = part.strip_prefix('<')?;
        let (target, params) = rest.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let Some((name, value)) = p.trim().split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && value
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        is_next.then(|| target.trim().to_string())
    })
}

/// Splits on the commas between links, not those inside `<…>` or quotes.
fn split_links(header: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_angle, mut in_quote) = (0, false, false);
    for (i, c) in header.char_indices() {
        match c {
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            '"' if !in_angle => in_quote = !in_quote,
            ',' if !in_angle && !in_quote => {
                parts.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&header[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_next_among_githubs_links() {
        let h = r#"<https://api.github.com/repositories/1/deployments?page=2>; rel="next", <https://api.github.com/repositories/1/deployments?page=5>; rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/deployments?page=2")
        );
    }

    #[test]
    fn no_next_on_the_last_page_and_commas_inside_targets_are_kept() {
        let last = r#"<https://x/?page=1>; rel="prev", <https://x/?page=1>; rel="first""#;
        assert_eq!(next_link(last), None);
        let comma = r#"<https://x/?q=a,b&page=3>; rel="next""#;
        assert_eq!(next_link(comma).as_deref(), Some("https://x/?q=a,b&page=3"));
        let multi = r#"<https://x/?page=4>; title="a, b"; rel="prev next""#;
        assert_eq!(next_link(multi).as_deref(), Some("https://x/?page=4"));
    }

    proptest! {
        #[test]
        fn never_panics_on_any_header(h in ".{0,300}") {
            let _ = next_link(&h);
        }
    }
}
