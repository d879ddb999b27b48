//! Drawing: a pure function of the app state, so layout tests render to
//! ratatui's TestBackend exactly what a terminal shows.
//!
//! ```text
//!  hype  http://127.0.0.1:7777            3 VMs  ● connected   <- or a DISCONNECTED banner
//! ┌ VMs ─────────────────────────────────────────────────────┐
//! │ NAME▲  STATE  ADDRESS  VMM  UPTIME  CPU  MEM              │
//! └───────────────────────────────────────────────────────────┘
//! ┌ Import jobs ──────────────────────────────────────────────┐ (only while there are some)
//! ┌ Events ───────────────────────────────────────────────────┐
//!  status line: the last action's result or the API's error
//!  footer: key hints
//! ```

mod overlay;
mod panes;
mod picker;
mod table;
pub mod theme;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::{App, Conn, Mode};
use crate::input::KEYS;
use theme::Theme;

pub fn render(app: &App, f: &mut Frame) {
    let theme = Theme { color: app.color };
    let area = f.area();
    if let Mode::Logs(view) = &app.mode {
        let [top, body, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        header(app, theme, f, top);
        overlay::logs(view, theme, f, body);
        hints(
            &[
                ("Esc", "back"),
                ("↑↓", "scroll"),
                ("PgUp/PgDn", "page"),
                ("End", "follow"),
            ],
            theme,
            f,
            foot,
        );
        return;
    }
    if let Mode::Pick(view) = &app.mode {
        if let Some(p) = &view.picker {
            picker::render(p, theme, f, area);
            return;
        }
    }
    let jobs = app.jobs.shown(app.now);
    let jobs_height = if jobs.is_empty() {
        0
    } else {
        jobs.len().min(4) as u16 + 2
    };
    let events_height = (area.height / 4).clamp(5, 14);
    let [top, vms, jobs_area, events, status, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(jobs_height),
        Constraint::Length(events_height),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header(app, theme, f, top);
    table::vms(app, theme, f, vms);
    if !jobs.is_empty() {
        panes::jobs(&jobs, theme, f, jobs_area);
    }
    panes::events(app, theme, f, events);
    status_line(app, theme, f, status);
    let footer: Vec<(&str, &str)> = KEYS
        .iter()
        .filter(|k| !k.2.is_empty())
        .map(|k| (k.0, k.2))
        .collect();
    hints(&footer, theme, f, foot);
    match &app.mode {
        Mode::Help => overlay::help(theme, f, area),
        Mode::ConfirmDelete(name) => overlay::confirm_delete(name, theme, f, area),
        Mode::Create(form) => overlay::create(form, theme, f, area),
        Mode::Import(form) => overlay::import(form, theme, f, area),
        Mode::Pick(view) => overlay::reading(&view.source.url, theme, f, area),
        Mode::Normal | Mode::Filter | Mode::Logs(_) => {}
    }
}

/// The VM picker alone on the screen (the CLI's `--pick`).
pub fn picker(p: &crate::picker::Picker, theme: Theme, f: &mut Frame) {
    picker::render(p, theme, f, f.area());
}

/// The top line: where, how many, and whether the stream is up. When it is
/// down, the whole line is a banner saying so.
fn header(app: &App, theme: Theme, f: &mut Frame, area: Rect) {
    if let Conn::Lost { why, retry_in } = &app.conn {
        let text = format!(
            " DISCONNECTED from {}: retrying in {:.1} s ({why})",
            app.base,
            retry_in.as_secs_f64()
        );
        f.render_widget(Paragraph::new(text).style(theme.banner()), area);
        return;
    }
    let (mark, state) = match app.conn {
        Conn::Connected => ("●", "connected"),
        _ => ("○", "connecting"),
    };
    let pools: String = app
        .pools
        .iter()
        .map(|p| format!("pool {} {}/{}  ", p.name, p.ready, p.size))
        .collect();
    let right = format!("{pools}{} VMs  {mark} {state} ", app.vms.len());
    let left = format!(" hype  {}", app.base);
    let pad = (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
    let line = Line::from(vec![
        Span::styled(left, theme.title()),
        Span::raw(" ".repeat(pad)),
        Span::styled(right, theme.connected()),
    ]);
    f.render_widget(Paragraph::new(line), area);
}

fn status_line(app: &App, theme: Theme, f: &mut Frame, area: Rect) {
    let line = match &app.status {
        Some(s) if s.error => {
            Line::from(Span::styled(format!(" error: {}", s.text), theme.error()))
        }
        Some(s) => Line::from(format!(" {}", s.text)),
        None => Line::from(""),
    };
    f.render_widget(Paragraph::new(line), area);
}

/// Key hints, as many as fit, in order.
fn hints(keys: &[(&str, &str)], theme: Theme, f: &mut Frame, area: Rect) {
    let mut spans = vec![];
    let mut used = 0;
    for (k, label) in keys {
        let w = k.chars().count() + label.chars().count() + 2;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(k.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A rectangle of at most `w`x`h` in the middle of `area`.
/// Says why a table in `area` shows no rows, in its first row's place.
fn empty_table(text: &str, theme: Theme, f: &mut Frame, area: Rect) {
    if area.height <= 3 {
        return;
    }
    let inner = Rect {
        x: area.x + 2,
        y: area.y + 2,
        width: area.width.saturating_sub(4),
        height: 1,
    };
    f.render_widget(Paragraph::new(text).style(theme.dim()), inner);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
