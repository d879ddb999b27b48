//! URL patterns of browser_route, as Playwright writes them.

/// A Playwright-style URL glob (`**/api/*`, `**/*.{png,jpg}`) as a regex:
/// `**` any characters, `*` any but `/`, `?` one character, `{a,b}` either.
pub(crate) fn glob(pattern: &str) -> Result<regex::Regex, regex::Error> {
    let mut re = String::from("^");
    let mut chars = pattern.chars().peekable();
    let mut in_group = false;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push('.'),
            '{' => {
                in_group = true;
                re.push_str("(?:");
            }
            '}' if in_group => {
                in_group = false;
                re.push(')');
            }
            ',' if in_group => re.push('|'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_playwright_documents() {
        let g = glob("**/api/users").unwrap();
        assert!(g.is_match("http://h/api/users"));
        assert!(!g.is_match("http://h/api/users/1"));
        let g = glob("**/*.{png,jpg}").unwrap();
        assert!(g.is_match("http://h/a/b.png") && g.is_match("http://h/c.jpg"));
        assert!(!g.is_match("http://h/c.gif"));
        let g = glob("http://h/*.js").unwrap();
        assert!(g.is_match("http://h/a.js") && !g.is_match("http://h/x/a.js"));
    }
}
