//! The event pane and the import-job pane.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use super::theme::Theme;
use crate::app::App;
use crate::jobs::Job;

/// `01:00:03` out of an RFC 3339 time, else the time as given.
fn clock(at: &str) -> &str {
    at.get(11..19).unwrap_or(at)
}

/// The newest events that fit, oldest at the top.
pub fn events(app: &App, theme: Theme, f: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Events ", theme.title()));
    let fit = area.height.saturating_sub(2) as usize;
    let from = app.events.len().saturating_sub(fit);
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(from)
        .map(|e| {
            let mut spans = vec![
                Span::raw(format!("{} ", clock(&e.at))),
                Span::styled(
                    format!("{:<14} ", e.event_type.as_str()),
                    theme.event(e.state),
                ),
                Span::raw(e.vm.clone()),
            ];
            if let Some(d) = &e.detail {
                spans.push(Span::styled(format!("  {d}"), theme.dim()));
            }
            Line::from(spans)
        })
        .collect();
    let body = if lines.is_empty() {
        vec![Line::styled("waiting for lifecycle events…", theme.dim())]
    } else {
        lines
    };
    f.render_widget(Paragraph::new(body).block(block), area);
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "vsphere_export" => "vsphere",
        "xcpng_export" => "xcp-ng",
        k => k,
    }
}

/// `[#########...........]` with `width` cells inside the brackets.
pub fn bar(fraction: Option<f64>, width: usize) -> (String, String) {
    let filled = fraction
        .map_or(0, |f| (f * width as f64).round() as usize)
        .min(width);
    ("#".repeat(filled), ".".repeat(width - filled))
}

/// One line per job: image, source kind, a progress bar, percent, detail.
pub fn jobs(jobs: &[&Job], theme: Theme, f: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(" Import jobs ", theme.title()));
    let width = (area.width as usize).saturating_sub(2);
    let bar_width = (width / 4).clamp(10, 30);
    let lines: Vec<Line> = jobs
        .iter()
        .take(area.height.saturating_sub(2) as usize)
        .map(|j| {
            let (done, left) = bar(j.fraction(), bar_width);
            let pct = j
                .fraction()
                .map(|f| format!("{:>3.0}%", f * 100.0))
                .unwrap_or_else(|| "   -".into());
            let image = j.image.as_deref().unwrap_or("?");
            let style = if j.state == "failed" {
                theme.error()
            } else {
                Default::default()
            };
            Line::from(vec![
                Span::raw(format!("{image:<14.14} {:<7} [", kind_label(&j.kind))),
                Span::styled(done, theme.bar()),
                Span::raw(left),
                Span::raw(format!("] {pct} ")),
                Span::styled(j.detail(), style),
            ])
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_clock() {
        assert_eq!(bar(Some(0.5), 10), ("#####".into(), ".....".into()));
        assert_eq!(bar(None, 4), (String::new(), "....".into()));
        assert_eq!(bar(Some(2.0), 4).0, "####");
        assert_eq!(clock("2026-11-22T01:00:03.123Z"), "01:00:03");
        assert_eq!(clock("soon"), "soon");
    }
}
