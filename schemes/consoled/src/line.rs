//! Line editing over a raw byte stream (the UART does not echo):
//!
//! - printable bytes are echoed and added to the line (at most
//!   [`LINE_MAX_BYTES`]; beyond that a bell is echoed); a tab counts as a
//!   space;
//! - backspace (BS, 0x08) and DEL (0x7f) erase the last character (a whole
//!   UTF-8 sequence);
//! - CR, LF and CR LF each end a line (a terminal in raw mode sends CR,
//!   piped input LF, some both: the LF right after a CR is dropped); the
//!   line is handed on with a `\n`;
//! - Ctrl-C (0x03) drops the line, echoes `^C` and a new line, and is an
//!   [`Event::Interrupt`];
//! - Ctrl-D (0x04) on an empty line is [`Event::Eof`] (a reader's `read`
//!   then returns 0); on a non-empty line it is ignored;
//! - Ctrl-U (0x15) erases the whole line;
//! - escape sequences (arrow keys: `ESC [ …`, `ESC O x`) and other control
//!   bytes are ignored.

use alloc::vec::Vec;

/// The longest line kept; further bytes are dropped (with a bell).
pub const LINE_MAX_BYTES: usize = 1024;

/// What a typed byte did, beyond its echo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A finished line, ending with `\n`.
    Line(Vec<u8>),
    /// Ctrl-C: the line was dropped; the foreground should be interrupted.
    Interrupt,
    /// Ctrl-D on an empty line: end of input for one read.
    Eof,
}

/// Where the editor is within an escape sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Escape {
    #[default]
    None,
    /// After ESC.
    Started,
    /// After `ESC [`: up to a final byte in `@`..=`~`.
    Csi,
    /// After `ESC O`: one more byte.
    Ss3,
}

/// The line being typed.
#[derive(Debug, Default)]
pub struct Editor {
    line: Vec<u8>,
    /// The last byte ended a line with CR (a following LF is dropped).
    after_cr: bool,
    escape: Escape,
}

impl Editor {
    /// Handles one typed byte: appends what the terminal should show to
    /// `echo` and returns the event it completes, if any.
    pub fn feed(&mut self, byte: u8, echo: &mut Vec<u8>) -> Option<Event> {
        let after_cr = core::mem::replace(&mut self.after_cr, false);
        if self.escape != Escape::None {
            self.escape = match (self.escape, byte) {
                (Escape::Started, b'[') => Escape::Csi,
                (Escape::Started, b'O') => Escape::Ss3,
                (Escape::Csi, 0x20..=0x3f) => Escape::Csi,
                _ => Escape::None,
            };
            return None;
        }
        match byte {
            b'\n' if after_cr => None,
            b'\r' | b'\n' => {
                self.after_cr = byte == b'\r';
                echo.push(b'\n');
                let mut line = core::mem::take(&mut self.line);
                line.push(b'\n');
                Some(Event::Line(line))
            }
            0x08 | 0x7f => {
                self.erase_char(echo);
                None
            }
            0x15 => {
                while !self.line.is_empty() {
                    self.erase_char(echo);
                }
                None
            }
            0x03 => {
                echo.extend_from_slice(b"^C\n");
                self.line.clear();
                Some(Event::Interrupt)
            }
            0x04 if self.line.is_empty() => Some(Event::Eof),
            0x1b => {
                self.escape = Escape::Started;
                None
            }
            b'\t' => {
                self.push(b' ', echo);
                None
            }
            0x00..0x20 => None,
            _ => {
                self.push(byte, echo);
                None
            }
        }
    }

    /// The bytes typed so far on the current line.
    pub fn pending(&self) -> &[u8] {
        &self.line
    }

    /// Adds `byte` to the line and echoes it, or rings the bell when full.
    fn push(&mut self, byte: u8, echo: &mut Vec<u8>) {
        if self.line.len() < LINE_MAX_BYTES {
            self.line.push(byte);
            echo.push(byte);
        } else {
            echo.push(0x07);
        }
    }

    /// Drops one UTF-8 character: continuation bytes, then its first byte.
    fn erase_char(&mut self, echo: &mut Vec<u8>) {
        while self.line.last().is_some_and(|b| b & 0xC0 == 0x80) {
            self.line.pop();
        }
        if self.line.pop().is_some() {
            echo.extend_from_slice(b"\x08 \x08");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input`; returns the echo and the events.
    fn typed(input: &[u8]) -> (Vec<u8>, Vec<Event>) {
        let mut editor = Editor::default();
        let mut echo = Vec::new();
        let events = input.iter().filter_map(|&b| editor.feed(b, &mut echo)).collect();
        (echo, events)
    }

    fn line(text: &str) -> Event {
        Event::Line(text.as_bytes().to_vec())
    }

    #[test]
    fn lines_end_with_cr_lf_or_both() {
        let (echo, events) = typed(b"ls\rcat\r\nx\n\n");
        assert_eq!(events, [line("ls\n"), line("cat\n"), line("x\n"), line("\n")]);
        assert_eq!(echo, b"ls\ncat\nx\n\n");
    }

    #[test]
    fn backspace_and_del_erase_whole_characters() {
        let (echo, events) = typed("bim\x08n é\x7f!\n".as_bytes());
        assert_eq!(events, [line("bin !\n")]);
        assert_eq!(echo, "bim\x08 \x08n é\x08 \x08!\n".as_bytes());
        let (_, events) = typed(b"\x7f\x08ok\x15no\n");
        assert_eq!(events, [line("no\n")]);
    }

    #[test]
    fn ctrl_c_drops_the_line_and_ctrl_d_ends_input_on_an_empty_line() {
        let (echo, events) = typed(b"sleep 9\x03\x04ab\x04c\n");
        assert_eq!(events, [Event::Interrupt, Event::Eof, line("abc\n")]);
        assert_eq!(echo, b"sleep 9^C\nabc\n");
    }

    #[test]
    fn escape_sequences_and_control_bytes_are_ignored() {
        let (echo, events) = typed(b"\x1b[A\x1b[1;5C\x1bOHa\x01\tb\n");
        assert_eq!(events, [line("a b\n")]);
        assert_eq!(echo, b"a b\n");
    }

    #[test]
    fn long_lines_ring_the_bell() {
        let mut input = alloc::vec![b'x'; LINE_MAX_BYTES + 2];
        input.push(b'\n');
        let (echo, events) = typed(&input);
        assert_eq!(echo.iter().filter(|&&b| b == 0x07).count(), 2);
        let Event::Line(kept) = &events[0] else { panic!("{events:?}") };
        assert_eq!(kept.len(), LINE_MAX_BYTES + 1);
    }
}
