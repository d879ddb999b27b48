//! The VM picker, full screen (the CLI's `--pick`, the dashboard's import):
//!
//! ```text
//!  Import from xcpng https://xcp1                               2 picked
//!  > web_
//! ┌ VMs 3/7 ───────────────────────────────────────────────────────────┐
//! │    NAME        POWER GUEST OS         DISKS            VM           │
//! │[x] web01       on    Debian 12        20.0 GiB xen     8c1f…        │
//! │ -  web-tmpl    off   template, not a VM                …            │
//! └─────────────────────────────────────────────────────────────────────┘
//!  notice (a template cannot be picked, ...)
//!  hints
//! ```

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::hints;
use super::theme::Theme;
use crate::app::printable;
use crate::picker::Picker;

pub const HINTS: [(&str, &str); 6] = [
    ("Space/Tab", "pick"),
    ("Enter", "import"),
    ("Esc", "cancel"),
    ("↑↓", "move"),
    ("^A", "all"),
    ("^U", "clear"),
];

const HEADER: [&str; 6] = ["", "NAME", "POWER", "GUEST OS", "DISKS", "VM"];

pub fn render(p: &Picker, theme: Theme, f: &mut Frame, area: Rect) {
    let [top, prompt, body, notice, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let left = format!(" Import from {}", printable(&p.title));
    let right = format!("{} picked ", p.picked.len());
    let pad = (top.width as usize).saturating_sub(left.chars().count() + right.chars().count());
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(left, theme.title()),
            Span::raw(" ".repeat(pad)),
            Span::styled(right, theme.header()),
        ])),
        top,
    );
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" > ", theme.header()),
            Span::raw(format!("{}_", printable(&p.query))),
        ])),
        prompt,
    );
    table(p, theme, f, body);
    if let Some(n) = &p.notice {
        f.render_widget(
            Paragraph::new(Span::styled(format!(" {}", printable(n)), theme.error())),
            notice,
        );
    }
    hints(&HINTS, theme, f, foot);
}

fn table(p: &Picker, theme: Theme, f: &mut Frame, area: Rect) {
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(" VMs {}/{} ", p.shown.len(), p.vms.len()),
        theme.title(),
    ));
    let header = Row::new(HEADER).style(theme.header());
    // The source names its VMs: what would steer the terminal is dropped
    // as the cells are drawn (the jobs still get the exact names).
    // The cells first, so the short columns can take their content's width
    // and the name and the VM's path or uuid share what is left.
    let cells: Vec<[String; 6]> = p
        .shown
        .iter()
        .map(|&i| {
            let vm = &p.vms[i];
            let mark = match (vm.template, p.picked.contains(&i)) {
                (true, _) => " - ",
                (false, true) => "[x]",
                (false, false) => "[ ]",
            };
            let disks = vm
                .disks
                .iter()
                .map(|d| {
                    let bus = serde_json::to_value(d.bus)
                        .ok()
                        .and_then(|b| b.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    format!("{} {bus}", crate::jobs::size(d.size_bytes))
                })
                .collect::<Vec<_>>()
                .join(", ");
            let guest = if vm.template {
                "template, not a VM".to_owned()
            } else {
                vm.guest_os.clone().unwrap_or_else(|| "-".into())
            };
            [
                mark.to_owned(),
                vm.name.clone(),
                vm.power_state.as_str().to_owned(),
                guest,
                if disks.is_empty() { "-".into() } else { disks },
                vm.path
                    .clone()
                    .or_else(|| vm.uuid.clone())
                    .unwrap_or_else(|| "-".into()),
            ]
            .map(|t| printable(&t))
        })
        .collect();
    let fit = |col: usize, max: usize| {
        let w = cells
            .iter()
            .map(|c| c[col].chars().count())
            .chain([HEADER[col].len()])
            .max()
            .unwrap_or(0);
        Constraint::Length(w.min(max) as u16)
    };
    let widths = [
        Constraint::Length(3),
        Constraint::Fill(3),
        fit(2, 9),
        fit(3, 24),
        fit(4, 28),
        Constraint::Fill(2),
    ];
    let rows = p.shown.iter().zip(cells).map(|(&i, c)| {
        let row = Row::new(c.map(Cell::from));
        if p.vms[i].template {
            row.style(theme.dim())
        } else {
            row
        }
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .column_spacing(1)
        .row_highlight_style(theme.selected());
    let mut state = TableState::default().with_selected((!p.shown.is_empty()).then_some(p.cursor));
    f.render_stateful_widget(table, area, &mut state);
    if p.shown.is_empty() {
        let text = if p.vms.is_empty() {
            "the source has no VMs"
        } else {
            "no VM matches (Backspace or ^U)"
        };
        super::empty_table(text, theme, f, area);
    }
}
