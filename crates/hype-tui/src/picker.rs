//! The VM picker shared by `hype images import ... --pick` and the
//! dashboard's import (`i`): a source's inventory as rows, filtered and
//! ranked fuzzily as the user types (nucleo-matcher, the matcher of the
//! helix editor), several rows picked with Space or Tab, Enter handing back
//! the picked VMs and Esc nothing. State and keys only, no I/O: `ui::picker`
//! draws it, and the CLI and the dashboard feed it keys.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use hype_types::{sanitize_image_name, SourceKind, SourceVm};
use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher};

/// Rows PgUp and PgDn move by.
const PAGE: usize = 10;

#[derive(Debug, Clone)]
pub struct Picker {
    /// What the header names: the source's kind and URL.
    pub title: String,
    pub vms: Vec<SourceVm>,
    /// What each VM is matched on, by index into `vms`.
    hay: Vec<String>,
    pub query: String,
    /// Indices into `vms` matching the query, best first.
    pub shown: Vec<usize>,
    /// The row under the cursor, an index into `shown`.
    pub cursor: usize,
    /// Indices into `vms`: picked rows stay picked while filtered out.
    pub picked: BTreeSet<usize>,
    /// Why the last key did nothing (a template, no row).
    pub notice: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Open,
    Cancel,
    /// The VMs to import, in the inventory's order.
    Submit(Vec<SourceVm>),
}

impl Picker {
    pub fn new(title: impl Into<String>, vms: Vec<SourceVm>) -> Self {
        // A vSphere VM's inventory path holds its folders, which people
        // search by too; an XCP-ng uuid would only add noise.
        let hay = vms
            .iter()
            .map(|v| match &v.path {
                Some(p) => format!("{} {p}", v.name),
                None => v.name.clone(),
            })
            .collect();
        let mut p = Self {
            title: title.into(),
            vms,
            hay,
            query: String::new(),
            shown: vec![],
            cursor: 0,
            picked: BTreeSet::new(),
            notice: None,
        };
        p.refilter();
        p
    }

    /// The VM under the cursor, by index into `vms`.
    pub fn current(&self) -> Option<usize> {
        self.shown.get(self.cursor).copied()
    }

    fn refilter(&mut self) {
        struct Hay<'a>(usize, &'a str);
        impl AsRef<str> for Hay<'_> {
            fn as_ref(&self) -> &str {
                self.1
            }
        }
        let pattern = Pattern::parse(&self.query, CaseMatching::Smart, Normalization::Smart);
        let mut matcher = Matcher::new(Config::DEFAULT);
        // The sort by score is stable: equal scores keep the inventory's
        // (name) order, and an empty query shows everything in it.
        self.shown = pattern
            .match_list(
                self.hay.iter().enumerate().map(|(i, h)| Hay(i, h)),
                &mut matcher,
            )
            .into_iter()
            .map(|(h, _)| h.0)
            .collect();
        self.cursor = 0;
    }

    fn set_query(&mut self, q: String) {
        if q != self.query {
            self.query = q;
            self.refilter();
        }
    }

    fn step(&mut self, delta: isize) {
        if let Some(last) = self.shown.len().checked_sub(1) {
            self.cursor = (self.cursor as isize + delta).clamp(0, last as isize) as usize;
        }
    }

    /// Picks or unpicks the row under the cursor. Picking clears the query
    /// so the next name can be typed at once; the cursor stays on the VM.
    fn toggle(&mut self) {
        let Some(i) = self.current() else {
            self.notice = Some("no VM matches: nothing to pick".into());
            return;
        };
        if self.vms[i].template {
            self.notice = Some(template_notice(&self.vms[i].name));
            return;
        }
        if !self.picked.remove(&i) {
            self.picked.insert(i);
            self.set_query(String::new());
            self.cursor = self.shown.iter().position(|&s| s == i).unwrap_or(0);
        }
    }

    /// Every shown VM that can be imported, or none if all already are.
    fn toggle_all(&mut self) {
        let shown: Vec<usize> = self
            .shown
            .iter()
            .copied()
            .filter(|&i| !self.vms[i].template)
            .collect();
        if shown.iter().all(|i| self.picked.contains(i)) {
            shown.iter().for_each(|i| {
                self.picked.remove(i);
            });
        } else {
            self.picked.extend(shown);
        }
    }

    fn submit(&mut self) -> Outcome {
        if !self.picked.is_empty() {
            return Outcome::Submit(self.picked.iter().map(|&i| self.vms[i].clone()).collect());
        }
        match self.current() {
            None => self.notice = Some("no VM matches: nothing to import".into()),
            Some(i) if self.vms[i].template => {
                self.notice = Some(template_notice(&self.vms[i].name))
            }
            Some(i) => return Outcome::Submit(vec![self.vms[i].clone()]),
        }
        Outcome::Open
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Outcome {
        if key.kind == KeyEventKind::Release {
            return Outcome::Open;
        }
        self.notice = None;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => return Outcome::Cancel,
            KeyCode::Char('c') if ctrl => return Outcome::Cancel,
            KeyCode::Enter => return self.submit(),
            KeyCode::Up => self.step(-1),
            KeyCode::Char('p' | 'k') if ctrl => self.step(-1),
            KeyCode::Down => self.step(1),
            KeyCode::Char('n' | 'j') if ctrl => self.step(1),
            KeyCode::PageUp => self.step(-(PAGE as isize)),
            KeyCode::PageDown => self.step(PAGE as isize),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.step(isize::MAX / 2),
            KeyCode::Tab | KeyCode::Char(' ') => self.toggle(),
            KeyCode::Char('a') if ctrl => self.toggle_all(),
            KeyCode::Char('u') if ctrl => self.set_query(String::new()),
            KeyCode::Backspace => {
                let mut q = self.query.clone();
                q.pop();
                self.set_query(q);
            }
            KeyCode::Char(c) if !ctrl && !key.modifiers.contains(KeyModifiers::ALT) => {
                let mut q = self.query.clone();
                q.push(c);
                self.set_query(q);
            }
            _ => {}
        }
        Outcome::Open
    }
}

fn template_notice(name: &str) -> String {
    format!("{name} is a template, not a VM: it cannot be imported")
}

/// What a job names a picked VM by (`vm`) and the image it makes (`name`):
/// XCP-ng's uuid (names need not be unique there), vSphere's inventory
/// path, else the name; the image is the VM's name sanitised as the server
/// does for a job without one.
pub fn job_target(kind: SourceKind, vm: &SourceVm) -> Result<(String, String), String> {
    let by = match kind {
        SourceKind::Xcpng => vm.uuid.as_ref(),
        SourceKind::Vsphere => vm.path.as_ref(),
    }
    .unwrap_or(&vm.name)
    .clone();
    let image = sanitize_image_name(&vm.name).ok_or_else(|| {
        format!(
            "VM {:?} gives no usable image name: import it alone with --vm and --name",
            vm.name
        )
    })?;
    Ok((by, image))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn source_vm(name: &str, template: bool) -> SourceVm {
        serde_json::from_value(serde_json::json!({
            "name": name, "uuid": format!("uuid-{name}"), "power_state": "off",
            "template": template, "disks": [{"size_bytes": 1 << 30, "bus": "xen", "slot": "0"}],
            "nics": []
        }))
        .expect("a VM as the inventory shows it")
    }

    fn picker() -> Picker {
        let names = [
            "alpha-db",
            "beta-web",
            "debian-template",
            "gamma-web",
            "web01",
        ];
        Picker::new(
            "xcpng http://x",
            names
                .iter()
                .map(|n| source_vm(n, n.ends_with("template")))
                .collect(),
        )
    }

    fn press(p: &mut Picker, code: KeyCode) -> Outcome {
        p.on_key(KeyEvent::from(code))
    }

    fn typed(p: &mut Picker, s: &str) {
        s.chars().for_each(|c| {
            press(p, KeyCode::Char(c));
        });
    }

    fn shown(p: &Picker) -> Vec<&str> {
        p.shown.iter().map(|&i| p.vms[i].name.as_str()).collect()
    }

    fn names(o: Outcome) -> Vec<String> {
        match o {
            Outcome::Submit(v) => v.into_iter().map(|v| v.name).collect(),
            o => panic!("not a submit: {o:?}"),
        }
    }

    #[test]
    fn typing_filters_and_ranks_fuzzily() {
        let mut p = picker();
        assert_eq!(shown(&p).len(), 5, "an empty query shows everything");
        typed(&mut p, "web");
        // Contiguous matches first; "beta-web" before "gamma-web" by name.
        assert_eq!(shown(&p), ["web01", "beta-web", "gamma-web"]);
        typed(&mut p, "1");
        assert_eq!(shown(&p), ["web01"]);
        (0..4).for_each(|_| {
            press(&mut p, KeyCode::Backspace);
        });
        typed(&mut p, "gw");
        assert_eq!(shown(&p), ["gamma-web"], "letters in order, not adjacent");
        typed(&mut p, "zz");
        assert!(shown(&p).is_empty());
        assert_eq!(press(&mut p, KeyCode::Enter), Outcome::Open);
        assert_eq!(
            p.notice.as_deref(),
            Some("no VM matches: nothing to import")
        );
    }

    #[test]
    fn picks_across_queries_and_submits_them_in_inventory_order() {
        let mut p = picker();
        typed(&mut p, "gamma");
        press(&mut p, KeyCode::Char(' '));
        assert_eq!(p.query, "", "picking clears the query");
        assert_eq!(p.vms[p.current().unwrap()].name, "gamma-web");
        typed(&mut p, "alp");
        press(&mut p, KeyCode::Tab);
        // Picked rows stay picked while the query hides them.
        typed(&mut p, "beta");
        press(&mut p, KeyCode::Tab);
        assert_eq!(p.picked.len(), 3);
        typed(&mut p, "beta");
        press(&mut p, KeyCode::Char(' '));
        assert_eq!(p.query, "beta", "unpicking keeps the query");
        assert_eq!(
            names(press(&mut p, KeyCode::Enter)),
            ["alpha-db", "gamma-web"]
        );
    }

    #[test]
    fn enter_without_picks_takes_the_cursor_row_and_arrows_stay_in_bounds() {
        let mut p = picker();
        press(&mut p, KeyCode::Up);
        assert_eq!(p.cursor, 0);
        press(&mut p, KeyCode::Down);
        press(&mut p, KeyCode::PageDown);
        assert_eq!(p.cursor, 4);
        assert_eq!(names(press(&mut p, KeyCode::Enter)), ["web01"]);
        typed(&mut p, "web");
        assert_eq!(p.cursor, 0, "a new query starts at its best match");
        assert_eq!(names(press(&mut p, KeyCode::Enter)), ["web01"]);
    }

    #[test]
    fn templates_cannot_be_picked_and_say_why() {
        let mut p = picker();
        typed(&mut p, "debtem");
        press(&mut p, KeyCode::Char(' '));
        assert!(p.picked.is_empty());
        let why = "debian-template is a template, not a VM: it cannot be imported";
        assert_eq!(p.notice.as_deref(), Some(why));
        assert_eq!(press(&mut p, KeyCode::Enter), Outcome::Open);
        assert_eq!(p.notice.as_deref(), Some(why));
        press(&mut p, KeyCode::Char('u'));
        assert_eq!(p.notice, None, "the next key clears the notice");
        p.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        p.on_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL));
        assert_eq!(
            p.picked.len(),
            4,
            "ctrl-a picks every VM shown, no template"
        );
        p.on_key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL));
        assert!(p.picked.is_empty(), "and again unpicks them");
    }

    #[test]
    fn escape_and_ctrl_c_cancel() {
        let mut p = picker();
        typed(&mut p, "w ");
        assert_eq!(press(&mut p, KeyCode::Esc), Outcome::Cancel);
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(p.on_key(ctrl_c), Outcome::Cancel);
    }

    #[test]
    fn job_targets_name_the_vm_exactly_and_sanitise_the_image() {
        let mut vm = source_vm("Web 01 (prod)", false);
        assert_eq!(
            job_target(SourceKind::Xcpng, &vm).unwrap(),
            ("uuid-Web 01 (prod)".into(), "web-01-prod".into())
        );
        assert_eq!(
            job_target(SourceKind::Vsphere, &vm).unwrap().0,
            "Web 01 (prod)",
            "no path (a vApp): the name"
        );
        vm.path = Some("/dc/vm/f/Web 01 (prod)".into());
        assert_eq!(
            job_target(SourceKind::Vsphere, &vm).unwrap().0,
            "/dc/vm/f/Web 01 (prod)"
        );
        vm.name = "___".into();
        assert!(job_target(SourceKind::Xcpng, &vm)
            .unwrap_err()
            .contains("--name"));
    }
}
