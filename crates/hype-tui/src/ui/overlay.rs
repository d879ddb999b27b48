//! What opens over the dashboard: help, the delete confirmation, the create
//! and import forms, and the full-screen serial log.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

use super::centered;
use super::theme::Theme;
use crate::app::LogView;
use crate::form::{CreateForm, ImportForm, FIELDS, IMPORT_FIELDS, PASSWORD_FIELD};
use crate::input::KEYS;

fn boxed<'a>(title: &'a str, theme: Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, theme.title()))
}

pub fn help(theme: Theme, f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what, _)| {
            Line::from(vec![
                Span::styled(format!("{k:>10}  "), theme.header()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::styled("any key closes this help", theme.dim()));
    let r = centered(area, 66, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(" Keys ", theme)), r);
}

pub fn confirm_delete(name: &str, theme: Theme, f: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(format!("Delete VM {name}?")),
        Line::styled(
            "Its VMM is killed and its disk and address freed.",
            theme.dim(),
        ),
        Line::from(vec![
            Span::styled("y", theme.key()),
            Span::raw(" delete   "),
            Span::styled("n", theme.key()),
            Span::raw(" keep"),
        ]),
    ];
    let r = centered(area, 54, 5);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(" Confirm ", theme)), r);
}

pub fn create(form: &CreateForm, theme: Theme, f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = FIELDS
        .iter()
        .zip(&form.values)
        .enumerate()
        .map(|(i, (label, value))| {
            let focused = i == form.focus;
            let shown = if value.is_empty() && i == 3 && !focused {
                "(server default)".to_owned()
            } else if focused {
                format!("{value}_")
            } else {
                value.clone()
            };
            let style = if focused {
                theme.selected()
            } else {
                Default::default()
            };
            Line::from(vec![
                Span::raw(format!("{label:>13}: ")),
                Span::styled(shown, style),
            ])
        })
        .collect();
    lines.push(Line::styled(
        "Tab next field · Enter create · Esc cancel",
        theme.dim(),
    ));
    let r = centered(area, 50, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(" Create VM ", theme)), r);
}

/// The import form; the password shows as stars, or where it comes from
/// when left empty.
pub fn import(form: &ImportForm, theme: Theme, f: &mut Frame, area: Rect) {
    let env = crate::form::source_kind(&form.values[0])
        .unwrap_or(hype_types::SourceKind::Xcpng)
        .job_kind()
        .password_env();
    let mut lines: Vec<Line> = IMPORT_FIELDS
        .iter()
        .zip(&form.values)
        .enumerate()
        .map(|(i, (label, value))| {
            let focused = i == form.focus;
            let mut shown = if i == PASSWORD_FIELD {
                "*".repeat(value.chars().count())
            } else {
                value.clone()
            };
            if i == PASSWORD_FIELD && value.is_empty() && !focused {
                shown = format!("(from {env})");
            }
            if focused {
                shown.push('_');
            }
            let style = if focused {
                theme.selected()
            } else {
                Default::default()
            };
            Line::from(vec![
                Span::raw(format!("{label:>9}: ")),
                Span::styled(shown, style),
            ])
        })
        .collect();
    lines.push(Line::styled(
        "kind xcpng|vsphere · insecure yes|no",
        theme.dim(),
    ));
    lines.push(Line::styled(
        "Tab next field · Enter list VMs · Esc cancel",
        theme.dim(),
    ));
    let r = centered(area, 60, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines).block(boxed(" Import from a source ", theme)),
        r,
    );
}

/// While the source's VMs are read.
pub fn reading(url: &str, theme: Theme, f: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(format!("Reading the VMs of {url}…")),
        Line::styled("Esc cancels", theme.dim()),
    ];
    let r = centered(area, 60, 4);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(boxed(" Import ", theme)), r);
}

/// The console, scrolled `view.back` lines up from the end.
pub fn logs(view: &LogView, theme: Theme, f: &mut Frame, area: Rect) {
    let state = match (&view.ended, view.back) {
        (Some(why), _) => format!("ended: {why}"),
        (None, 0) => "following".into(),
        (None, n) => format!("{n} lines back"),
    };
    let title = format!(" Serial log: {} ({state}) ", view.vm);
    let fit = area.height.saturating_sub(2) as usize;
    let end = view.lines.len().saturating_sub(view.back);
    let start = end.saturating_sub(fit);
    let lines: Vec<Line> = view
        .lines
        .iter()
        .skip(start)
        .take(end - start)
        .map(|l| Line::raw(l.clone()))
        .collect();
    f.render_widget(Paragraph::new(lines).block(boxed(&title, theme)), area);
}
