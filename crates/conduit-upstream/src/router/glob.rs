//! Model-name globs for route rules: `*` matches any run of characters, `?` one character.

/// Whether `name` matches `pattern` (whole name, case-sensitive).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    // The last `*` seen and the name position it was tried at, for backtracking.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((s, mark)) = star {
            pi = s + 1;
            ni = mark + 1;
            star = Some((s, mark + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        let cases = [
            ("*", "", true),
            ("*", "anything", true),
            ("claude-*", "claude-opus-4-7", true),
            ("claude-*", "claude-", true),
            ("claude-*", "gpt-5", false),
            ("claude-?-x", "claude-4-x", true),
            ("claude-?-x", "claude-44-x", false),
            ("*-4-7", "claude-opus-4-7", true),
            ("*opus*", "claude-opus-4-7[1m]", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("", "", true),
            ("", "x", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob_match(p, n), want, "{p:?} {n:?}");
        }
    }
}
