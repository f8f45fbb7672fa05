//! How an example's output is compared with what the page shows. The page masks what must vary
//! with `…`:
//! - a line that is only `…` (indentation aside) stands for any number of lines, none included
//!   (a long list shortened);
//! - `…` inside a line stands for one varying value: any run of characters without `,`, `{`,
//!   `}`, `[` or `]`, so a mask can hide an id, a time or a rate, but not a field added or removed.
//!
//! Everything else must be equal, character for character.

use std::fmt;

/// The mask.
pub const MASK: &str = "…";

/// Where the output first parted from the page.
#[derive(Debug)]
pub struct Mismatch {
    /// 1-based line of the page's block where no match could continue (the furthest reached).
    pub expected_line: usize,
    /// 1-based line of the output there.
    pub actual_line: usize,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the output parts from the page at the page's line {} of the block (output line {})",
            self.expected_line, self.actual_line
        )
    }
}

/// Whether `actual` is what `expected` shows.
pub fn matches(expected: &[&str], actual: &[&str]) -> Result<(), Mismatch> {
    let expected = trim_blank_tail(expected);
    let actual = trim_blank_tail(actual);
    let (n, m) = (expected.len(), actual.len());
    // ok[i][j]: expected[i..] matches actual[j..].
    let mut ok = vec![vec![false; m + 1]; n + 1];
    ok[n][m] = true;
    for i in (0..n).rev() {
        let any = expected[i].trim() == MASK;
        for j in (0..=m).rev() {
            ok[i][j] = if any {
                ok[i + 1][j] || (j < m && ok[i][j + 1])
            } else {
                j < m && ok[i + 1][j + 1] && line_matches(expected[i], actual[j])
            };
        }
    }
    if ok[0][0] {
        return Ok(());
    }
    // The furthest pair of lines a match reached, for the report.
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if expected[i].trim() == MASK {
            i += 1;
        } else if line_matches(expected[i], actual[j]) {
            i += 1;
            j += 1;
        } else {
            break;
        }
    }
    Err(Mismatch {
        expected_line: i + 1,
        actual_line: j + 1,
    })
}

fn trim_blank_tail<'a>(lines: &'a [&'a str]) -> &'a [&'a str] {
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    &lines[..end]
}

/// Whether one output line is what the page's line shows (see the module doc for `…`).
pub fn line_matches(pattern: &str, text: &str) -> bool {
    let pattern = pattern.trim_end();
    let text = text.trim_end();
    let parts: Vec<&str> = pattern.split(MASK).collect();
    glob(&parts, text)
}

fn glob(parts: &[&str], text: &str) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        return text.is_empty();
    };
    let Some(after) = text.strip_prefix(first) else {
        return false;
    };
    if rest.is_empty() {
        return after.is_empty();
    }
    // The mask takes one value: try every length up to the first character it cannot hold.
    let limit = after.find([',', '{', '}', '[', ']']).unwrap_or(after.len());
    (0..=limit)
        .filter(|k| after.is_char_boundary(*k))
        .any(|k| glob(rest, &after[k..]))
}

#[test]
fn masks_hide_values_and_lists_but_nothing_else() {
    let line = r#"{"inserted":1000,"seed":42,"elapsed_ms":…,"docs_per_second":…}"#;
    assert!(line_matches(
        line,
        r#"{"inserted":1000,"seed":42,"elapsed_ms":12,"docs_per_second":8000.0}"#
    ));
    // A changed pinned value, a field added or removed: no match.
    assert!(!line_matches(
        line,
        r#"{"inserted":1000,"seed":43,"elapsed_ms":12,"docs_per_second":8000.0}"#
    ));
    assert!(!line_matches(
        line,
        r#"{"inserted":1000,"seed":42,"elapsed_ms":12,"extra":1,"docs_per_second":8000.0}"#
    ));
    assert!(!line_matches(
        line,
        r#"{"inserted":1000,"seed":42,"docs_per_second":8000.0}"#
    ));
    assert!(line_matches(r#""id":"ccd9…""#, r#""id":"ccd90a4c""#));
    assert!(line_matches("a … b", "a  b"));

    let page = ["[", "  1,", "  …", "]"];
    assert!(matches(&page, &["[", "  1,", "  2,", "  3", "]"]).is_ok());
    assert!(matches(&page, &["[", "  1,", "]"]).is_ok());
    assert!(matches(&page, &["[", "  2,", "]"]).is_err());
    // Trailing blank lines do not count; missing or extra lines do.
    assert!(matches(&["a"], &["a", ""]).is_ok());
    assert!(matches(&["a"], &["a", "b"]).is_err());
    assert!(matches(&["a", "b"], &["a"]).is_err());
    let m = matches(&["a", "b", "c"], &["a", "x", "c"]).unwrap_err();
    assert_eq!((m.expected_line, m.actual_line), (2, 2));
}
