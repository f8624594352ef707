//! Commands from stdin, one line at a time: a prompt before each when
//! interactive, more lines read while the text so far is incomplete (an
//! open quote, a trailing `|` or `&&`: prompt `> `).

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::EINTR;
use tessera_runtime::{eprintln, print, sys};
use tessera_sh::parser::{self, ParseError};

use crate::shell::Shell;

/// What the shell prints before the continuation of an incomplete command.
const CONTINUATION_PROMPT: &str = "> ";

/// Reads and runs stdin until its end or `exit`; returns the status to
/// exit with.
pub fn run_stdin(shell: &mut Shell, interactive: bool) -> i32 {
    let mut reader = LineReader::default();
    let mut text = String::new();
    loop {
        if interactive {
            if text.is_empty() {
                print!("tessera:{}$ ", shell.cwd());
            } else {
                print!("{CONTINUATION_PROMPT}");
            }
        }
        let line = match reader.next_line() {
            Ok(Some(line)) => line,
            Ok(None) => {
                if !text.is_empty() {
                    shell.syntax_error("unexpected end of input");
                }
                if interactive {
                    tessera_runtime::println!();
                }
                return shell.status;
            }
            Err(e) => {
                eprintln!("sh: reading stdin failed: {e}");
                return 1;
            }
        };
        text.push_str(&line);
        match parser::parse(&text) {
            Err(ParseError::Incomplete) => continue,
            Err(ParseError::Syntax(why)) => {
                shell.syntax_error(&why);
            }
            Ok(script) => {
                shell.run_script(&script);
            }
        }
        text.clear();
        if let Some(code) = shell.exit {
            return code;
        }
    }
}

/// Splits fd 0 into lines.
#[derive(Default)]
struct LineReader {
    pending: Vec<u8>,
    ended: bool,
}

impl LineReader {
    /// The next line with its `\n` (the last may lack one); `None` at the
    /// end of input. Errors: those of `sys::read` but EINTR.
    fn next_line(&mut self) -> Result<Option<String>, tessera_runtime::Error> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.ended {
                if self.pending.is_empty() {
                    // A later read may give more (a console after Ctrl-D).
                    self.ended = false;
                    return Ok(None);
                }
                let line = core::mem::take(&mut self.pending);
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            let mut buf = [0u8; 512];
            match sys::read(0, &mut buf) {
                Ok(0) => self.ended = true,
                Ok(n) => self.pending.extend_from_slice(&buf[..n.min(buf.len())]),
                Err(e) if e.errno == EINTR => {}
                Err(e) => return Err(e),
            }
        }
    }
}
