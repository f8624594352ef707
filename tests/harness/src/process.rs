//! Runs the command under test and watches its output with a deadline.
//!
//! The command runs with stdin from `/dev/null` (or, given [`Input`]
//! stages, a pipe that gets each stage's bytes once the output shows its
//! trigger text) and stdout/stderr piped, in its own process group. One
//! thread per pipe reads lines and stamps each with the milliseconds since
//! spawn (an unfinished line is passed on too, for triggers and the prompt
//! only: a prompt has no newline); the calling thread receives them, feeds
//! [`Observations`], and decides when to stop:
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

use std::io::{self, Read, Write};
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

/// One stage of what to type into the command: `bytes` go to its stdin
/// once its stdout (the guest's serial console) shows `after`, in a whole
/// line or in the unfinished line so far. Stages go in order; a stage's
/// `after` counts only in output whose line began after the previous stage
/// was written (so the echo of typed text cannot trigger the next stage).
/// After the last stage stdin is closed. Until the first, nothing is
/// written, so firmware that polls the serial port during boot cannot
/// swallow the input.
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
    watch_with_input(command, limits, Vec::new(), seen, on_line)
}

/// What a reader thread passes on.
enum Event {
    /// A whole line; `start` is the stream offset of its first byte.
    Line { line: OutputLine, start: u64 },
    /// The unfinished line so far (raw text), when a read ended without a
    /// newline; `start` as for a line, `end` the offset after it.
    Partial { stream: Stream, at_ms: u64, text: String, start: u64, end: u64 },
}

/// [`watch`], writing the `input` stages (if any) to the command's stdin
/// when their triggers come. The bytes are written by a thread of their
/// own, so a command that does not read them never blocks the run loop.
pub fn watch_with_input(
    command: &[String],
    limits: &Limits,
    input: Vec<Input>,
    mut seen: Observations,
    on_line: &mut dyn FnMut(&OutputLine),
) -> io::Result<Finished> {
    let (program, args) =
        command.split_first().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty command"))?;
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_empty() { Stdio::null() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let mut stages = input.into_iter();
    let mut stage = stages.next();
    let feeder = child.stdin.take().map(Feeder::spawn);
    // Output of stdout whose line starts before this offset cannot trigger
    // the current stage.
    let mut armed_from = 0u64;
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
            Ok(Event::Line { line, start }) => {
                let first_failure = seen.first_failure.is_none();
                if seen.record_from(line.stream, line.at_ms, &line.text) == LineKind::Failure && first_failure {
                    stop_at = stop_at.min(Instant::now() + limits.linger_after_failure);
                }
                if ended.is_none() && line.stream == Stream::Stdout && seen.wants_kill(&line.text) {
                    // A power cut: SIGKILL at once, no grace, no shutdown.
                    let _ = signal::kill_group(child.id(), signal::SIGKILL);
                    let _ = child.kill();
                    let _ = child.wait();
                    ended = Some((Ending::KilledAsAsked, Instant::now()));
                }
                if line.stream == Stream::Stdout
                    && start >= armed_from
                    && stage.as_ref().is_some_and(|stage| line.text.contains(&stage.after))
                {
                    // Only lines after this one count for the next stage.
                    armed_from = start + 1;
                    send_stage(&feeder, &mut stage, &mut stages);
                }
                on_line(&line);
            }
            Ok(Event::Partial { stream, at_ms, text, start, end }) => {
                seen.record_partial(stream, at_ms, &text);
                if stream == Stream::Stdout
                    && start >= armed_from
                    && stage.as_ref().is_some_and(|stage| text.contains(&stage.after))
                {
                    armed_from = end;
                    send_stage(&feeder, &mut stage, &mut stages);
                }
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

/// Writes the stages' bytes to the command's stdin, in a thread of its
/// own, and closes it after the last; a write error (the command is gone)
/// just ends the thread.
struct Feeder {
    tx: Sender<Option<Vec<u8>>>,
}

impl Feeder {
    fn spawn(mut pipe: ChildStdin) -> Feeder {
        let (tx, rx) = mpsc::channel::<Option<Vec<u8>>>();
        thread::spawn(move || {
            // `None` (or the run loop gone) ends the input: drop the pipe.
            while let Ok(Some(bytes)) = rx.recv() {
                if pipe.write_all(&bytes).and_then(|()| pipe.flush()).is_err() {
                    break;
                }
            }
        });
        Feeder { tx }
    }
}

/// Sends the current stage's bytes and moves to the next stage; after the
/// last, closes stdin.
fn send_stage(feeder: &Option<Feeder>, stage: &mut Option<Input>, stages: &mut impl Iterator<Item = Input>) {
    let Some(sent) = stage.take() else { return };
    *stage = stages.next();
    if let Some(feeder) = feeder {
        let _ = feeder.tx.send(Some(sent.bytes));
        if stage.is_none() {
            let _ = feeder.tx.send(None);
        }
    }
}

/// Reads `pipe` until it closes, sending each cleaned line, and the
/// unfinished line whenever a read ends without a newline.
fn spawn_reader(pipe: impl Read + Send + 'static, stream: Stream, start: Instant, tx: Sender<Event>) {
    thread::spawn(move || {
        let mut pipe = pipe;
        let mut pending: Vec<u8> = Vec::new();
        // The stream offset of `pending[0]`.
        let mut offset = 0u64;
        let mut chunk = [0u8; 4096];
        loop {
            let n = match pipe.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            pending.extend_from_slice(&chunk[..n]);
            let at_ms = millis(start.elapsed());
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = pending.drain(..=end).collect();
                let text = classify::clean(&String::from_utf8_lossy(&raw));
                let event = Event::Line { line: OutputLine { at_ms, stream, text }, start: offset };
                offset += raw.len() as u64;
                if tx.send(event).is_err() {
                    return; // the run loop is gone
                }
            }
            if !pending.is_empty() {
                let text = String::from_utf8_lossy(&pending).into_owned();
                let end = offset + pending.len() as u64;
                if tx.send(Event::Partial { stream, at_ms, text, start: offset, end }).is_err() {
                    return;
                }
            }
        }
        if !pending.is_empty() {
            let text = classify::clean(&String::from_utf8_lossy(&pending));
            let _ = tx
                .send(Event::Line { line: OutputLine { at_ms: millis(start.elapsed()), stream, text }, start: offset });
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
    fn run(script: &str, input: Vec<Input>) -> Vec<String> {
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
        assert_eq!(run(script, vec![input]), ["booting", "console ready", "got one+two", "eof"]);
    }

    #[test]
    fn stages_follow_prompts_without_newlines() {
        // Each stage waits for a prompt that has no newline; the echo of
        // the first answer repeats the prompt text in an older line, which
        // must not trigger the second stage early.
        let script = "printf '$ '; read a; echo \"$ $a\"; printf '$ '; read b; echo \"got $a+$b\"; \
                      if read c; then echo more; else echo eof; fi";
        let stage = |bytes: &[u8]| Input { bytes: bytes.to_vec(), after: "$ ".into() };
        assert_eq!(run(script, vec![stage(b"one\n"), stage(b"two\n")]), ["$ $ one", "$ got one+two", "eof"]);
    }

    #[test]
    fn without_input_stdin_is_empty() {
        assert_eq!(run("if read a; then echo got; else echo eof; fi", Vec::new()), ["eof"]);
    }

    #[test]
    fn input_waits_for_its_trigger() {
        // The trigger never comes: stdin stays open and empty, so the read
        // would block; `timeout` ends it and the script reports that.
        let script = "echo start; if timeout 0.3 sh -c 'read a'; then echo read; else echo waited; fi";
        let input = Input { bytes: b"x\n".to_vec(), after: "never".into() };
        assert_eq!(run(script, vec![input]), ["start", "waited"]);
    }
}
