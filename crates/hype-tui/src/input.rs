//! Keys: what each one does in each mode. The help overlay and the footer
//! are built from `KEYS`, so they cannot drift from what is handled here.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::app::{App, Cmd, LogView, Mode, PickView};
use crate::form::{CreateForm, ImportForm};
use crate::picker::{job_target, Outcome};

/// Key, what it does, and its short footer label (empty: help only).
pub const KEYS: [(&str, &str, &str); 20] = [
    ("?", "this help", "help"),
    ("q", "quit (Ctrl-C too)", "quit"),
    ("c", "create a VM (name, cpus, memory, image)", "new"),
    ("i", "import VMs: a source, then pick (Space) and Enter", ""),
    ("r", "start the selected VM", "start"),
    ("x", "stop it", "stop"),
    ("p", "pause it", "pause"),
    ("u", "resume it", "resume"),
    ("n", "snapshot it (cloud-hypervisor VMs)", "snap"),
    ("R", "restore it from its snapshot", ""),
    ("d", "delete it (asks first)", "del"),
    ("l", "its serial log, followed (Enter too)", "log"),
    (
        "/",
        "filter: letters of a name, a state, state:run",
        "filter",
    ),
    ("s", "sort by the next column", "sort"),
    ("S", "reverse the sort", ""),
    ("j k ↑ ↓", "move the selection", ""),
    ("g G", "first or last VM", ""),
    ("Esc", "clear the filter; close a view or dialog", ""),
    ("PgUp PgDn", "log view: scroll back and forth", ""),
    ("End", "log view: follow new output again", ""),
];

pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    if key.kind == KeyEventKind::Release {
        return vec![];
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        app.quit = true;
        return vec![];
    }
    match &mut app.mode {
        Mode::Normal => normal(app, key),
        Mode::Filter => {
            match key.code {
                KeyCode::Enter => app.mode = Mode::Normal,
                KeyCode::Esc => {
                    app.filter.clear();
                    app.mode = Mode::Normal;
                }
                KeyCode::Backspace => {
                    app.filter.pop();
                }
                KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    app.filter.clear()
                }
                KeyCode::Char(c) => app.filter.push(c),
                _ => {}
            }
            vec![]
        }
        Mode::Help => {
            app.mode = Mode::Normal;
            vec![]
        }
        Mode::ConfirmDelete(name) => {
            let name = name.clone();
            match key.code {
                KeyCode::Char('y' | 'Y') => {
                    app.mode = Mode::Normal;
                    app.say(format!("deleting {name}…"), false);
                    vec![Cmd::Delete(name)]
                }
                KeyCode::Char('n' | 'N' | 'q') | KeyCode::Esc => {
                    app.mode = Mode::Normal;
                    app.say(format!("kept {name}"), false);
                    vec![]
                }
                _ => vec![],
            }
        }
        Mode::Create(form) => match create(form, key) {
            Form::Typing => vec![],
            Form::Invalid(why) => {
                app.say(why, true);
                vec![]
            }
            Form::Cancel => {
                app.mode = Mode::Normal;
                vec![]
            }
            Form::Submit(req) => {
                app.mode = Mode::Normal;
                app.say(format!("creating {}…", req.name), false);
                app.selected = Some(req.name.clone());
                vec![Cmd::Create(req)]
            }
        },
        Mode::Import(form) => match import(form, key) {
            Form::Typing => vec![],
            Form::Invalid(why) => {
                app.say(why, true);
                vec![]
            }
            Form::Cancel => {
                app.mode = Mode::Normal;
                vec![]
            }
            Form::Submit(source) => {
                app.say(format!("reading the VMs of {}…", source.url), false);
                app.mode = Mode::Pick(Box::new(PickView {
                    source: source.clone(),
                    picker: None,
                }));
                vec![Cmd::Inventory(source)]
            }
        },
        Mode::Pick(view) => {
            let Some(picker) = &mut view.picker else {
                if key.code == KeyCode::Esc {
                    app.mode = Mode::Normal;
                    app.say("import cancelled", false);
                }
                return vec![];
            };
            match picker.on_key(key) {
                Outcome::Open => vec![],
                Outcome::Cancel => {
                    app.mode = Mode::Normal;
                    app.say("import cancelled: no job submitted", false);
                    vec![]
                }
                Outcome::Submit(vms) => {
                    let kind = view.source.kind;
                    match vms.iter().map(|v| job_target(kind, v)).collect() {
                        Err(why) => {
                            picker.notice = Some(why);
                            vec![]
                        }
                        Ok(targets) => {
                            let source = view.source.clone();
                            app.mode = Mode::Normal;
                            app.say(format!("submitting {} import job(s)…", vms.len()), false);
                            vec![Cmd::Import { source, targets }]
                        }
                    }
                }
            }
        }
        Mode::Logs(view) => {
            let page = 20;
            match key.code {
                KeyCode::Esc | KeyCode::Char('q') => {
                    app.mode = Mode::Normal;
                    return vec![Cmd::StopLogs];
                }
                KeyCode::Up | KeyCode::Char('k') => view.back += 1,
                KeyCode::Down | KeyCode::Char('j') => view.back = view.back.saturating_sub(1),
                KeyCode::PageUp => view.back += page,
                KeyCode::PageDown => view.back = view.back.saturating_sub(page),
                KeyCode::Home | KeyCode::Char('g') => view.back = view.lines.len(),
                KeyCode::End | KeyCode::Char('G') => view.back = 0,
                _ => {}
            }
            view.back = view.back.min(view.lines.len());
            vec![]
        }
    }
}

enum Form<T> {
    Typing,
    /// Submitted with a mistake; the form stays open.
    Invalid(String),
    Cancel,
    Submit(T),
}

fn import(form: &mut ImportForm, key: KeyEvent) -> Form<crate::form::Source> {
    match key.code {
        KeyCode::Esc => return Form::Cancel,
        KeyCode::Enter => {
            return match form.to_source() {
                Ok(s) => Form::Submit(s),
                Err(why) => Form::Invalid(why),
            }
        }
        KeyCode::Tab | KeyCode::Down => form.next(),
        KeyCode::BackTab | KeyCode::Up => form.prev(),
        KeyCode::Backspace => form.backspace(),
        KeyCode::Char(c) => form.type_char(c),
        _ => {}
    }
    Form::Typing
}

fn create(form: &mut CreateForm, key: KeyEvent) -> Form<hype_types::CreateVm> {
    match key.code {
        KeyCode::Esc => return Form::Cancel,
        KeyCode::Enter => {
            return match form.to_request() {
                Ok(req) => Form::Submit(req),
                Err(why) => Form::Invalid(why),
            }
        }
        KeyCode::Tab | KeyCode::Down => form.next(),
        KeyCode::BackTab | KeyCode::Up => form.prev(),
        KeyCode::Backspace => form.backspace(),
        KeyCode::Char(c) => form.type_char(c),
        _ => {}
    }
    Form::Typing
}

fn normal(app: &mut App, key: KeyEvent) -> Vec<Cmd> {
    let selected = app.selected_vm().map(|v| v.name.clone());
    let on_selected = |app: &mut App, f: &dyn Fn(String) -> Vec<Cmd>| match &selected {
        Some(name) => f(name.clone()),
        None => {
            app.say("no VM selected", true);
            vec![]
        }
    };
    let action = |app: &mut App, action: &'static str| {
        on_selected(app, &|vm| vec![Cmd::Action { vm, action }])
    };
    match key.code {
        KeyCode::Char('q') => app.quit = true,
        KeyCode::Char('?') => app.mode = Mode::Help,
        KeyCode::Down | KeyCode::Char('j') => app.move_selection(1),
        KeyCode::Up | KeyCode::Char('k') => app.move_selection(-1),
        KeyCode::PageDown => app.move_selection(10),
        KeyCode::PageUp => app.move_selection(-10),
        KeyCode::Home | KeyCode::Char('g') => app.move_selection(isize::MIN / 2),
        KeyCode::End | KeyCode::Char('G') => app.move_selection(isize::MAX / 2),
        KeyCode::Char('/') => app.mode = Mode::Filter,
        KeyCode::Esc => app.filter.clear(),
        KeyCode::Char('s') => app.sort.column = app.sort.column.next(),
        KeyCode::Char('S') => app.sort.reverse = !app.sort.reverse,
        KeyCode::Char('c') => app.mode = Mode::Create(CreateForm::default()),
        KeyCode::Char('i') => app.mode = Mode::Import(ImportForm::default()),
        KeyCode::Char('r') => return action(app, "start"),
        KeyCode::Char('x') => return action(app, "stop"),
        KeyCode::Char('p') => return action(app, "pause"),
        KeyCode::Char('u') => return action(app, "resume"),
        KeyCode::Char('n') => return action(app, "snapshot"),
        KeyCode::Char('R') => return action(app, "restore"),
        KeyCode::Char('d') => {
            if let Some(name) = selected {
                app.mode = Mode::ConfirmDelete(name);
            } else {
                app.say("no VM selected", true);
            }
        }
        KeyCode::Char('l') | KeyCode::Enter => {
            if let Some(vm) = selected {
                app.mode = Mode::Logs(LogView {
                    vm: vm.clone(),
                    ..LogView::default()
                });
                return vec![Cmd::FollowLogs(vm)];
            }
            app.say("no VM selected", true);
        }
        _ => {}
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{Msg, Status};
    use crate::table::tests::vm;

    fn key(c: char) -> Msg {
        Msg::Key(KeyEvent::from(KeyCode::Char(c)))
    }

    fn code(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::from(c))
    }

    fn app() -> App {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let mut app = App::new("http://x", true, now);
        app.update(Msg::Vms(vec![
            vm("web", "running", None, 256),
            vm("db", "paused", None, 256),
        ]));
        app
    }

    #[test]
    fn actions_apply_to_the_selected_vm() {
        let mut app = app();
        assert_eq!(
            app.update(key('p')),
            [Cmd::Action {
                vm: "db".into(),
                action: "pause"
            }]
        );
        app.update(key('j'));
        assert_eq!(
            app.update(key('u')),
            [Cmd::Action {
                vm: "web".into(),
                action: "resume"
            }]
        );
        assert_eq!(app.update(key('l')), [Cmd::FollowLogs("web".into())]);
        assert!(matches!(&app.mode, Mode::Logs(v) if v.vm == "web"));
        assert_eq!(app.update(code(KeyCode::Esc)), [Cmd::StopLogs]);
    }

    #[test]
    fn delete_asks_first() {
        let mut app = app();
        assert_eq!(app.update(key('d')), []);
        assert!(matches!(&app.mode, Mode::ConfirmDelete(n) if n == "db"));
        assert_eq!(app.update(key('n')), []);
        assert!(matches!(app.mode, Mode::Normal));
        app.update(key('d'));
        assert_eq!(app.update(key('z')), [], "only y or n answer");
        assert_eq!(app.update(key('y')), [Cmd::Delete("db".into())]);
    }

    #[test]
    fn filter_as_typed_and_escape_clears() {
        let mut app = app();
        for c in "/wb".chars() {
            app.update(key(c));
        }
        assert_eq!(app.visible().len(), 1);
        app.update(code(KeyCode::Enter));
        assert_eq!(app.filter, "wb");
        assert_eq!(
            app.update(key('x')),
            [Cmd::Action {
                vm: "web".into(),
                action: "stop"
            }]
        );
        app.update(code(KeyCode::Esc));
        assert_eq!(app.visible().len(), 2);
        app.filter = "nothing".into();
        assert_eq!(app.update(key('r')), []);
        assert_eq!(
            app.status,
            Some(Status {
                text: "no VM selected".into(),
                error: true
            })
        );
    }

    #[test]
    fn create_form_submits_or_says_why_not() {
        let mut app = app();
        app.update(key('c'));
        for c in "new1".chars() {
            app.update(key(c));
        }
        let cmds = app.update(code(KeyCode::Enter));
        let [Cmd::Create(req)] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!((req.name.as_str(), req.memory_mb), ("new1", 512));
        app.update(key('c'));
        assert_eq!(app.update(code(KeyCode::Enter)), []);
        assert!(app.status.as_ref().unwrap().error);
        assert!(matches!(app.mode, Mode::Create(_)), "stays open to fix");
        app.update(code(KeyCode::Esc));
        assert!(matches!(app.mode, Mode::Normal));
    }

    #[test]
    fn quit_keys() {
        let mut app = app();
        app.update(key('?'));
        app.update(key('q'));
        assert!(!app.quit, "q closes the help first");
        app.update(key('q'));
        assert!(app.quit);
        let mut app = self::app();
        app.update(key('/'));
        app.update(Msg::Key(KeyEvent::new(
            KeyCode::Char('c'),
            KeyModifiers::CONTROL,
        )));
        assert!(app.quit);
    }

    #[test]
    fn import_form_then_picker_then_one_batch() {
        let mut app = app();
        app.update(key('i'));
        assert!(matches!(app.mode, Mode::Import(_)));
        for c in "http://xcp".chars() {
            app.update(key(c));
        }
        let cmds = app.update(code(KeyCode::Enter));
        let [Cmd::Inventory(source)] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(source.url, "http://xcp");
        // Keys while the VMs are read do nothing but Esc.
        assert_eq!(app.update(key('x')), []);
        let inv = hype_types::Inventory {
            kind: hype_types::SourceKind::Xcpng,
            url: "http://xcp".into(),
            vms: vec![
                crate::picker::tests::source_vm("alpha", false),
                crate::picker::tests::source_vm("beta", false),
                crate::picker::tests::source_vm("tmpl", true),
            ],
        };
        app.update(Msg::Inventory(Ok(inv.clone())));
        for c in "bet ".chars() {
            app.update(key(c));
        }
        for c in "alp ".chars() {
            app.update(key(c));
        }
        let cmds = app.update(code(KeyCode::Enter));
        let [Cmd::Import { source, targets }] = cmds.as_slice() else {
            panic!("{cmds:?}");
        };
        assert_eq!(source.url, "http://xcp");
        assert_eq!(
            targets,
            &[
                ("uuid-alpha".to_owned(), "alpha".to_owned()),
                ("uuid-beta".to_owned(), "beta".to_owned())
            ]
        );
        assert!(matches!(app.mode, Mode::Normal));

        // Esc in the picker: no job; an unreadable source: its error.
        app.update(key('i'));
        app.update(key('x'));
        app.update(code(KeyCode::Enter));
        app.update(Msg::Inventory(Ok(inv)));
        assert_eq!(app.update(code(KeyCode::Esc)), []);
        assert!(matches!(app.mode, Mode::Normal));
        app.update(key('i'));
        app.update(key('x'));
        app.update(code(KeyCode::Enter));
        app.update(Msg::Inventory(Err("source_unreachable: x".into())));
        assert!(matches!(app.mode, Mode::Normal));
        assert_eq!(app.status.as_ref().unwrap().text, "source_unreachable: x");
    }
}
