//! The VM table.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::{App, Conn, Mode};
use crate::table::{human_age, uptime, vmm_label, Column};

const WIDTHS: [Constraint; 7] = [
    Constraint::Min(8),
    Constraint::Length(9),
    Constraint::Length(15),
    Constraint::Length(13),
    Constraint::Length(7),
    Constraint::Length(4),
    Constraint::Length(8),
];

pub fn vms(app: &App, theme: Theme, f: &mut Frame, area: Rect) {
    let shown = app.visible();
    let mut title = vec![Span::styled(
        format!(" VMs {}/{} ", shown.len(), app.vms.len()),
        theme.title(),
    )];
    if matches!(app.mode, Mode::Filter) || !app.filter.is_empty() {
        let cursor = if matches!(app.mode, Mode::Filter) {
            "_"
        } else {
            ""
        };
        title.push(Span::raw(format!("filter: {}{cursor} ", app.filter)));
    }
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Line::from(title));

    let header = Row::new(Column::ALL.iter().map(|c| {
        let mark = match (c == &app.sort.column, app.sort.reverse) {
            (false, _) => "",
            (true, false) => "▲",
            (true, true) => "▼",
        };
        Cell::from(format!("{}{mark}", c.title()))
    }))
    .style(theme.header());

    let stale = !matches!(app.conn, Conn::Connected);
    let rows = shown.iter().map(|vm| {
        let up = uptime(vm, &app.boots, app.now)
            .map(human_age)
            .unwrap_or_else(|| "-".into());
        let row = Row::new(vec![
            Cell::from(vm.name.clone()),
            Cell::from(Span::styled(vm.state.as_str(), theme.state(vm.state))),
            Cell::from(vm.ip.clone().unwrap_or_else(|| "-".into())),
            Cell::from(vmm_label(vm)),
            Cell::from(up),
            Cell::from(vm.cpu_cores.to_string()),
            Cell::from(format!("{} MiB", vm.memory_mb)),
        ]);
        if stale {
            row.style(theme.dim())
        } else {
            row
        }
    });
    let table = Table::new(rows, WIDTHS)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected(app.selected_index());
    f.render_stateful_widget(table, area, &mut state);

    if shown.is_empty() {
        let text = if !app.loaded {
            "loading…"
        } else if app.vms.is_empty() {
            "no VMs yet: press c to create one"
        } else {
            "no VM matches the filter (Esc clears it)"
        };
        super::empty_table(text, theme, f, area);
    }
}
