//! playwright-mcp's `testing` group: assertions an agent writing a test
//! makes about the page (each passes, or is a tool error saying what was
//! found instead), and a Playwright locator for an element. Roles and names
//! are those of the snapshot the agent reads, so what it saw there is what
//! these check.

use rmcp::model::ContentBlock;

use crate::args::*;
use crate::backend::Backend;
use crate::error::ToolError;
use crate::server::{HypeMcp, Output};

/// The part of a snapshot line after its indentation and `- ` when it is
/// the element `role "name"` (followed by flags, a ref, `:` or nothing).
fn is_element(line: &str, role: &str, name: &str) -> bool {
    let head = format!(
        "- {role} {}",
        serde_json::to_string(name).unwrap_or_default()
    );
    line.trim_start()
        .strip_prefix(&head)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ':']))
}

/// The snapshot line of the element with backend node id `node`.
fn line_of(snap: &str, node: u64) -> Option<&str> {
    let tag = format!("[ref=e{node}]");
    snap.lines().find(|l| l.contains(&tag))
}

/// A string as a JavaScript single-quoted literal, as Playwright writes
/// locators.
fn js_quote(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `getByRole('role', { name: 'name' })` from a snapshot line that names
/// its element; None for a line without a name (or a text line).
fn role_locator(line: &str) -> Option<String> {
    let rest = line.trim_start().strip_prefix("- ")?;
    let (role, rest) = rest.split_once(' ')?;
    if role.ends_with(':') || !rest.starts_with('"') {
        return None;
    }
    // The name is a JSON string: read exactly one off the front.
    let mut de = serde_json::Deserializer::from_str(rest).into_iter::<String>();
    let name = de.next()?.ok()?;
    Some(format!(
        "getByRole({}, {{ name: {} }})",
        js_quote(role),
        js_quote(&name)
    ))
}

/// Collapses runs of whitespace, as rendered text does.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A CSS selector that finds `el` alone: its id if unique, else the path of
/// `:nth-of-type` steps from the nearest ancestor with a unique id.
const CSS_PATH: &str = r#"(el) => {
  const uniq = (e) => e.id && document.querySelectorAll('#' + CSS.escape(e.id)).length === 1;
  const steps = [];
  for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
    if (uniq(e)) { steps.unshift('#' + CSS.escape(e.id)); break; }
    const tag = e.localName;
    const same = e.parentElement ? [...e.parentElement.children].filter(c => c.localName === tag) : [e];
    steps.unshift(same.length > 1 ? `${tag}:nth-of-type(${same.indexOf(e) + 1})` : tag);
  }
  return steps.join(' > ');
}"#;

impl<B: Backend> HypeMcp<B> {
    async fn snapshot_text(
        &self,
        t: &mut crate::browser::Tab<B::Lease>,
    ) -> Result<String, ToolError> {
        t.run(|p| Box::pin(async move { p.snapshot().await })).await
    }

    pub(crate) async fn verify_element_visible(&self, a: VerifyElementVisible) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let snap = self.snapshot_text(&mut t).await?;
        if snap
            .lines()
            .any(|l| is_element(l, &a.role, &a.accessible_name))
        {
            return done(format!(
                "Verified: the {} \"{}\" is visible.",
                a.role, a.accessible_name
            ));
        }
        Err(ToolError::Invalid(format!(
            "no {} named \"{}\" is visible on the page; browser_snapshot shows the roles and names there are",
            a.role, a.accessible_name
        )))
    }

    pub(crate) async fn verify_text_visible(&self, a: VerifyTextVisible) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        // innerText leaves out what is not rendered (display: none,
        // visibility: hidden), as a person reading the page would.
        let text = t
            .run(|p| {
                Box::pin(async move {
                    p.evaluate("() => document.body ? document.body.innerText : ''", None)
                        .await
                })
            })
            .await?;
        let want = squash(&a.text);
        if squash(text.as_str().unwrap_or_default()).contains(&want) {
            return done(format!("Verified: \"{want}\" is visible."));
        }
        Err(ToolError::Invalid(format!(
            "the text \"{want}\" is not visible on the page; browser_snapshot shows what is"
        )))
    }

    pub(crate) async fn verify_list_visible(&self, a: VerifyListVisible) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let text = t
            .run(move |p| {
                Box::pin(async move { p.evaluate("(el) => el.innerText", Some(n)).await })
            })
            .await?;
        let text = squash(text.as_str().unwrap_or_default());
        let missing: Vec<&str> = a
            .items
            .iter()
            .map(String::as_str)
            .filter(|i| !text.contains(&squash(i)))
            .collect();
        if missing.is_empty() {
            return done(format!(
                "Verified: {} shows all {} items.",
                a.element,
                a.items.len()
            ));
        }
        Err(ToolError::Invalid(format!(
            "{} does not show {}; it shows: {}",
            a.element,
            missing
                .iter()
                .map(|m| format!("\"{m}\""))
                .collect::<Vec<_>>()
                .join(", "),
            crate::browser::cut(&text, 2000)
        )))
    }

    pub(crate) async fn verify_value(&self, a: VerifyValue) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let f = "(el) => ({checked: !!el.checked, value: el.value ?? el.textContent, \
                 texts: el.selectedOptions ? [...el.selectedOptions].map(o => o.text) : []})";
        let got = t
            .run(move |p| Box::pin(async move { p.evaluate(f, Some(n)).await }))
            .await?;
        let actual = match a.kind {
            FieldType::Checkbox | FieldType::Radio => got["checked"].to_string(),
            _ => got["value"].as_str().unwrap_or_default().to_owned(),
        };
        // A combobox is also right when its selected option's text is the value.
        let texts = got["texts"].as_array().cloned().unwrap_or_default();
        let by_text = a.kind == FieldType::Combobox
            && texts.iter().any(|t| t.as_str() == Some(a.value.as_str()));
        if actual == a.value || by_text {
            return done(format!("Verified: {} is \"{}\".", a.element, a.value));
        }
        Err(ToolError::Invalid(format!(
            "{} is \"{actual}\", not \"{}\"",
            a.element, a.value
        )))
    }

    pub(crate) async fn generate_locator(&self, a: GenerateLocator) -> Output {
        let mut t = self.tab(a.sandbox).await?;
        let n = t.resolve(&a.target).await?;
        let snap = self.snapshot_text(&mut t).await?;
        if let Some(l) = line_of(&snap, n).and_then(role_locator) {
            return done(l);
        }
        // No role and name: a CSS path, which Playwright takes as well.
        let css = t
            .run(move |p| Box::pin(async move { p.evaluate(CSS_PATH, Some(n)).await }))
            .await?;
        done(format!(
            "locator({})",
            js_quote(css.as_str().unwrap_or_default())
        ))
    }
}

fn done(text: String) -> Output {
    Ok(vec![ContentBlock::text(text)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const SNAP: &str = "- main [ref=e2]:\n  - heading \"Log in\" [level=1] [ref=e3]\n  - button \"Say \\\"hi\\\"\" [ref=e4]\n  - textbox \"User\" [ref=e5]: \"ann\"\n  - generic [ref=e6]\n  - text: \"Log in first\"\n";

    #[test]
    fn elements_match_by_whole_role_and_name() {
        assert!(SNAP.lines().any(|l| is_element(l, "heading", "Log in")));
        assert!(SNAP.lines().any(|l| is_element(l, "button", "Say \"hi\"")));
        assert!(SNAP.lines().any(|l| is_element(l, "textbox", "User")));
        // Not a prefix of a longer name, nor another role, nor a text line.
        assert!(!SNAP.lines().any(|l| is_element(l, "heading", "Log")));
        assert!(!SNAP.lines().any(|l| is_element(l, "link", "Log in")));
        assert!(!SNAP.lines().any(|l| is_element(l, "text", "Log in first")));
    }

    #[test]
    fn locators_come_from_the_snapshot_line() {
        assert_eq!(
            line_of(SNAP, 4).and_then(role_locator).as_deref(),
            Some("getByRole('button', { name: 'Say \"hi\"' })")
        );
        assert_eq!(
            line_of(SNAP, 5).and_then(role_locator).as_deref(),
            Some("getByRole('textbox', { name: 'User' })")
        );
        // Nameless: the caller falls back to CSS.
        assert_eq!(line_of(SNAP, 6).and_then(role_locator), None);
        assert_eq!(line_of(SNAP, 2).and_then(role_locator), None);
        assert_eq!(line_of(SNAP, 40), None);
        assert_eq!(js_quote("it's \\ here"), "'it\\'s \\\\ here'");
    }
}
