//! Snapshot text as the tools shape it: cut to the budget with a note,
//! one element's subtree, a depth limit.

use hype_cdp::axtree;

/// `snap` cut at a line boundary to at most `budget` characters, with a
/// note on what was left out and how to see it.
pub(crate) fn cut(snap: &str, budget: usize) -> String {
    if snap.len() <= budget {
        return snap.to_owned();
    }
    let mut end = budget;
    while !snap.is_char_boundary(end) {
        end -= 1;
    }
    let end = snap[..end].rfind('\n').map_or(0, |i| i + 1);
    let left = snap[end..].lines().count();
    format!(
        "{}# [cut: {left} more lines ({} characters) beyond the snapshot budget of {budget}; use browser_find, or browser_snapshot with `target` or `depth`, to see them]\n",
        &snap[..end],
        snap.len() - end
    )
}

/// The lines of the element with ref `e{node}` and those nested under it.
pub(crate) fn subtree(snap: &str, node: u64) -> Option<String> {
    let tag = format!("[ref={}]", axtree::node_ref(node));
    let mut lines = snap.lines();
    let first = lines.find(|l| l.contains(&tag))?;
    let indent = first.len() - first.trim_start().len();
    let mut out = format!("{}\n", &first[indent..]);
    for l in lines.take_while(|l| l.len() - l.trim_start().len() > indent) {
        out.push_str(&l[indent..]);
        out.push('\n');
    }
    Some(out)
}

/// Only the lines at most `depth` levels below the top.
pub(crate) fn limit_depth(snap: &str, depth: usize) -> String {
    snap.lines()
        .filter(|l| (l.len() - l.trim_start().len()) / 2 <= depth)
        .fold(String::new(), |mut s, l| {
            s.push_str(l);
            s.push('\n');
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = "- heading \"A\" [ref=e1]\n- list [ref=e2]:\n  - listitem [ref=e3]:\n    - link \"x\" [ref=e4]\n- button \"B\" [ref=e5]\n";

    #[test]
    fn snapshots_are_cut_to_the_budget_with_a_note() {
        assert_eq!(cut(SNAP, 1000), SNAP);
        let c = cut(SNAP, 30);
        assert!(
            c.starts_with("- heading \"A\" [ref=e1]\n# [cut: 4 more lines"),
            "{c}"
        );
        assert!(c.contains("browser_find"));
    }

    #[test]
    pub(crate) fn subtrees_and_depths() {
        assert_eq!(
            subtree(SNAP, 3).unwrap(),
            "- listitem [ref=e3]:\n  - link \"x\" [ref=e4]\n"
        );
        assert!(subtree(SNAP, 9).is_none());
        assert!(!limit_depth(SNAP, 1).contains("link"));
        assert!(limit_depth(SNAP, 1).contains("listitem"));
    }
}
