//! Maximum bipartite matching of approvals to the approval slots a policy asks
//! for (Kuhn's augmenting paths). Written here because it is twenty lines and
//! the sizes are tiny (a handful of approvers and slots); a graph crate would
//! bring far more than it gives.

/// Returns, for each left node, the right node it is matched to.
pub fn maximum_matching(
    left: usize,
    right: usize,
    edge: impl Fn(usize, usize) -> bool,
) -> Vec<Option<usize>> {
    let mut owner: Vec<Option<usize>> = vec![None; right];
    for l in 0..left {
        let mut seen = vec![false; right];
        augment(l, &edge, &mut owner, &mut seen);
    }
    let mut matched = vec![None; left];
    for (r, l) in owner.iter().enumerate() {
        if let Some(l) = l {
            matched[*l] = Some(r);
        }
    }
    matched
}

fn augment(
    l: usize,
    edge: &impl Fn(usize, usize) -> bool,
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for r in 0..owner.len() {
        if edge(l, r) && !seen[r] {
            seen[r] = true;
            if owner[r].is_none_or(|other| augment(other, edge, owner, seen)) {
                owner[r] = Some(l);
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reassigns_to_make_room() {
        // Left 0 fits both slots, left 1 fits only slot 0: both must be matched.
        let m = maximum_matching(2, 2, |l, r| l == 0 || r == 0);
        assert_eq!(m, vec![Some(1), Some(0)]);
    }

    #[test]
    fn one_person_fills_one_slot() {
        let m = maximum_matching(1, 2, |_, _| true);
        assert_eq!(m.iter().flatten().count(), 1);
    }

    #[test]
    fn nothing_fits() {
        assert_eq!(maximum_matching(2, 1, |_, _| false), vec![None, None]);
    }
}
