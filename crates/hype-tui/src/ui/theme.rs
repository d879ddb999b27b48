//! Every style the dashboard uses, in one place, so NO_COLOR can take all
//! colour out at once: without colour, emphasis is bold or reversed text.

use hype_types::VmState;
use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn pick(&self, colored: Style, plain: Style) -> Style {
        if self.color {
            colored
        } else {
            plain
        }
    }

    pub fn state(&self, s: VmState) -> Style {
        let c = match s {
            VmState::Running => Color::Green,
            VmState::Creating | VmState::Starting | VmState::Stopping => Color::Yellow,
            VmState::Paused | VmState::Standby => Color::Cyan,
            VmState::Crashed => Color::Red,
            VmState::Stopped => Color::DarkGray,
        };
        self.pick(Style::new().fg(c), Style::new())
    }

    pub fn header(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn selected(&self) -> Style {
        self.pick(
            Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn connected(&self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    pub fn banner(&self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
        )
    }

    pub fn key(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Black).bg(Color::Cyan),
            Style::new().add_modifier(Modifier::REVERSED),
        )
    }

    pub fn error(&self) -> Style {
        self.pick(
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn bar(&self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    pub fn event(&self, s: VmState) -> Style {
        self.state(s)
    }
}
