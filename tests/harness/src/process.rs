//! Runs the command under test and watches its output with a deadline.
//!
//! The command runs with stdin from `/dev/null` (or, given an [`Input`], a
//! pipe that gets the input's bytes once a line of output contains its
//! trigger text) and stdout/stderr piped, in its own process group. One thread per pipe reads lines and stamps each
//! with the milliseconds since spawn; the calling thread receives them,
//! feeds [`Observations`], and decides when to stop:
//!
//! * the process exits by itself — keep reading until both pipes close (at
//!   most [`DRAIN`] longer; whatever of its group still holds them then is
//!   killed), then report its status;
//! * the first failure line arrives — wait at most
//!   [`Limits::linger_after_failure`] more for the rest of the report (and
//!   the guest's own exit), then end the group;
//! * the timeout passes, or the harness is interrupted — end the group.
//!
//! "End the group" is SIGTERM, then SIGKILL after [`Limits::kill_grace`].
//! Nothing here waits without a bound, so the harness never hangs, even if
//! a grandchild escaped the group and keeps a pipe open.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::classify::{self, LineKind};
use crate::observe::Observations;
use crate::signal;
use crate::verdict::Ending;

/// How often the run loop checks the child and the clock when no output comes.
const TICK: Duration = Duration::from_millis(20);
/// How long to keep reading after the process ended, for output still in
/// the pipes.
pub const DRAIN: Duration = Duration::from_millis(500);

/// The time limits of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The longest the command may run.
    pub timeout: Duration,
    /// After the first failure line, how long to keep collecting output (a
    /// fault report spans several lines) before ending the command.
    pub linger_after_failure: Duration,
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(90),
            linger_after_failure: Duration::from_secs(1),
            kill_grace: Duration::from_secs(2),
        }
    }
}

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The guest's serial console (`-serial stdio`).
    Stdout,
    /// QEMU's own messages.
    Stderr,
}

/// One line of output as the run loop hands it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    /// Milliseconds from spawn to the moment the line was read.
    pub at_ms: u64,
    /// Which pipe it came from.
    pub stream: Stream,
    /// The text after [`classify::clean`].
    pub text: String,
}

/// What to type into the command: `bytes` go to its stdin once a line of
/// its stdout (the guest's serial console) contains `after`; then stdin is
/// closed. Until then nothing is written, so firmware that polls the serial
/// port during boot cannot swallow the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The bytes to write.
    pub bytes: Vec<u8>,
    /// Text a stdout line must contain before they are written.
    pub after: String,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finished {
    /// What the output showed.
    pub seen: Observations,
    /// How the process ended.
    pub ending: Ending,
    /// Milliseconds from spawn until the ending was known.
    pub ended_ms: u64,
}

/// Runs `command` (program and arguments) under `limits`, recording every
/// line in `seen` (fresh observations that know what the test expects) and
/// calling `on_line` for it, in the order received.
///
/// Fails only if the command cannot be started or waited for.
pub fn watch(
    command: &[String],
    limits: &Limits,
    seen: Observations,
    on_line: &mut dyn FnMut(&OutputLine),
) -> io::Result<Finished> {
    watch_with_input(command, limits, None, seen, on_line)
}

/// [`watch`], writing `input` (if any) to the command's stdin when its
/// trigger line comes. The bytes are written by a thread of their own, so
/// a command that does not read them never blocks the run loop.
pub fn watch_with_input(
    command: &[String],
    limits: &Limits,
    mut input: Option<Input>,
    mut seen: Observations,
    on_line: &mut dyn FnMut(&OutputLine),
) -> io::Result<Finished> {
    let (program, args) =
        command.split_first().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let mut stdin = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Stream::Stdout, start, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Stream::Stderr, start, tx);
    }

    let mut stop_at = start + limits.timeout;
    let mut ended: Option<(Ending, Instant)> = None;
    let mut pipes_closed = false;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(line) => {
                let first_failure = seen.first_failure.is_none();
                if seen.record_from(line.stream, line.at_ms, &line.text) == LineKind::Failure && first_failure {
                    stop_at = stop_at.min(Instant::now() + limits.linger_after_failure);
                }
                if line.stream == Stream::Stdout
                    && input.as_ref().is_some_and(|input| line.text.contains(&input.after))
                    && let (Some(pipe), Some(input)) = (stdin.take(), input.take())
                {
                    feed(pipe, input.bytes);
                }
                on_line(&line);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => pipes_closed = true,
        }
        let now = Instant::now();
        if ended.is_none() {
            if let Some(status) = child.try_wait()? {
                ended = Some((ending_of(status), now));
            } else if signal::interrupted() {
                stop(&mut child, limits.kill_grace)?;
                ended = Some((Ending::Interrupted, now));
            } else if now >= stop_at {
                stop(&mut child, limits.kill_grace)?;
                let ending = if seen.first_failure.is_some() { Ending::StoppedAfterFailure } else { Ending::TimedOut };
                ended = Some((ending, now));
            }
        }
        if let Some((ending, at)) = ended
            && (pipes_closed || now >= at + DRAIN)
        {
            if !pipes_closed {
                // Something the command started still holds its output
                // open; it belongs to the command's group, so end it too.
                let _ = signal::kill_group(child.id(), signal::SIGKILL);
            }
            return Ok(Finished { seen, ending, ended_ms: millis(at - start) });
        }
    }
}

/// Writes `bytes` to the command's stdin and closes it, in a thread of its
/// own; a write error (the command is gone) just ends the thread.
fn feed(mut pipe: ChildStdin, bytes: Vec<u8>) {
    thread::spawn(move || {
        let _ = pipe.write_all(&bytes);
    });
}

/// Reads `pipe` line by line until it closes, sending each cleaned line.
fn spawn_reader(pipe: impl Read + Send + 'static, stream: Stream, start: Instant, tx: Sender<OutputLine>) {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = OutputLine {
                        at_ms: millis(start.elapsed()),
                        stream,
                        text: classify::clean(&String::from_utf8_lossy(&raw)),
                    };
                    if tx.send(line).is_err() {
                        break; // the run loop is gone
                    }
                }
            }
        }
    });
}

/// Ends the child's process group: SIGTERM, then SIGKILL after `grace`.
fn stop(child: &mut Child, grace: Duration) -> io::Result<()> {
    // The group may already be empty (ESRCH); that is fine.
    let _ = signal::kill_group(child.id(), signal::SIGTERM);
    let give_up = Instant::now() + grace;
    while Instant::now() < give_up {
        if child.try_wait()?.is_some() {
            // The leader is gone; make sure nothing it started lingers.
            let _ = signal::kill_group(child.id(), signal::SIGKILL);
            return Ok(());
        }
        thread::sleep(TICK);
    }
    let _ = signal::kill_group(child.id(), signal::SIGKILL);
    let _ = child.kill();
    child.wait().map(drop)
}

fn ending_of(status: ExitStatus) -> Ending {
    match (status.code(), status.signal()) {
        (Some(code), _) => Ending::Exited(code),
        (None, Some(sig)) => Ending::Signalled(sig),
        (None, None) => Ending::Signalled(0),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        vec!["sh".into(), "-c".into(), script.into()]
    }

    /// Runs `script` with `input` and returns its stdout lines.
    fn run(script: &str, input: Option<Input>) -> Vec<String> {
        let limits = Limits { timeout: Duration::from_secs(10), ..Limits::default() };
        let mut lines = Vec::new();
        let finished =
            watch_with_input(&sh(script), &limits, input, Observations::new(&[], "KERNEL FAULT"), &mut |l| {
                if l.stream == Stream::Stdout {
                    lines.push(l.text.clone());
                }
            })
            .unwrap();
        assert_eq!(finished.ending, Ending::Exited(0), "{lines:?}");
        lines
    }

    #[test]
    fn input_is_written_after_the_trigger_line() {
        // Nothing may be readable before `ready`: the first read must wait
        // for the trigger, then get the first input line.
        let script = "echo booting; echo 'console ready'; read a; read b; echo \"got $a+$b\"; \
                      if read c; then echo more; else echo eof; fi";
        let input = Input { bytes: b"one\ntwo\n".to_vec(), after: "ready".into() };
        assert_eq!(run(script, Some(input)), ["booting", "console ready", "got one+two", "eof"]);
    }

    #[test]
    fn without_input_stdin_is_empty() {
        assert_eq!(run("if read a; then echo got; else echo eof; fi", None), ["eof"]);
    }

    #[test]
    fn input_waits_for_its_trigger() {
        // The trigger never comes: stdin stays open and empty, so the read
        // would block; `timeout` ends it and the script reports that.
        let script = "echo start; if timeout 0.3 sh -c 'read a'; then echo read; else echo waited; fi";
        let input = Input { bytes: b"x\n".to_vec(), after: "never".into() };
        assert_eq!(run(script, Some(input)), ["start", "waited"]);
    }
}
