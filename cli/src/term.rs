//! Terminal conventions: colour only on a terminal and never with `NO_COLOR`, and a live
//! status line that is redrawn in place (only on a terminal).

use std::io::{IsTerminal, Write};

/// ANSI styles written by hand; each is a no-op when colour is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
    Cyan,
    Magenta,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
            Style::Cyan => "36",
            Style::Magenta => "35",
        }
    }
}

/// Whether to colour a stream: it must be a terminal and `NO_COLOR` must be unset or empty
/// (the no-color.org convention).
pub fn colour_wanted(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

/// A painter for one output stream.
#[derive(Debug, Clone, Copy)]
pub struct Paint {
    pub colour: bool,
}

impl Paint {
    /// Colour decided for stderr.
    pub fn stderr() -> Self {
        Paint {
            colour: colour_wanted(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref()),
        }
    }

    /// Colour decided for stdout.
    pub fn stdout() -> Self {
        Paint {
            colour: colour_wanted(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref()),
        }
    }

    /// `text` in `style`, or plain.
    pub fn paint(self, style: Style, text: impl std::fmt::Display) -> String {
        if self.colour {
            format!("\x1b[{}m{text}\x1b[0m", style.code())
        } else {
            text.to_string()
        }
    }
}

/// A one-line status on stderr, redrawn in place with `\r` and erased before other output.
/// Inert unless stderr is a terminal.
#[derive(Debug)]
pub struct StatusLine {
    enabled: bool,
    shown: bool,
}

impl StatusLine {
    /// A status line on stderr when it is a terminal (and `enabled`).
    pub fn new(enabled: bool) -> Self {
        StatusLine {
            enabled: enabled && std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Whether the status line draws at all.
    pub fn is_live(&self) -> bool {
        self.enabled
    }

    /// Draws `text` over the previous status.
    pub fn show(&mut self, text: &str) {
        if !self.enabled {
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        self.shown = true;
    }

    /// Erases the status, if shown.
    pub fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

impl Drop for StatusLine {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_wanted(true, None));
        assert!(colour_wanted(true, Some(OsStr::new(""))));
        assert!(!colour_wanted(true, Some(OsStr::new("1"))));
        assert!(!colour_wanted(false, None));
    }

    #[test]
    fn plain_paint_has_no_escapes() {
        let plain = Paint { colour: false };
        assert_eq!(plain.paint(Style::Red, "x"), "x");
        let coloured = Paint { colour: true };
        assert_eq!(coloured.paint(Style::Red, "x"), "\x1b[31mx\x1b[0m");
    }
}
