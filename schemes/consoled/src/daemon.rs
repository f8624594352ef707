//! The daemon itself (Tessera only): start-up, the input thread, the
//! request thread and the answers they write (see the crate doc).

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;
use tessera_consoled::cooked::Cooked;
use tessera_consoled::line::{Editor, Event};
use tessera_runtime::abi::Stat;
use tessera_runtime::abi::error::{EBADF, EINTR, EINVAL, ENOENT};
use tessera_runtime::abi::flag::{MODE_CHR, O_RDWR};
use tessera_runtime::abi::scheme::{
    CQE_BYTES, Cqe, CqeOpcode, MESSAGE_MAX_BYTES, Opcode, RESPONSE_PAYLOAD_MAX_BYTES, split_request,
};
use tessera_runtime::abi::signal::SIGINT;
use tessera_runtime::scheme::{self, CallerCtx, Opened, Scheme, Server};
use tessera_runtime::{Args, Error, Result, eprintln, io, sys, thread};

tessera_runtime::entry!(main);

/// The scheme served.
const NAME: &str = "console";
/// The serial console underneath.
const DEBUG: &str = "debug:";
/// The id of every terminal handle.
const TERMINAL: usize = 0;
/// The id of every control handle.
const CONTROL: usize = 1;
/// The id of every window-size handle (`dup(terminal, "winsize")`).
const WINSIZE: usize = 2;
/// The window size a serial line starts with: it cannot tell its own, so
/// the classic 24 rows of 80 columns (`struct winsize`: rows, columns, and
/// no pixels) until someone sets it (TIOCSWINSZ, `stty rows N cols M`).
const DEFAULT_WINSIZE: [u16; 4] = [24, 80, 0, 0];

/// A read of the terminal waiting for input.
struct PendingRead {
    tag: u32,
    /// The most bytes it may get.
    len: usize,
    /// The reading process.
    caller: usize,
}

/// What both threads share.
struct State {
    editor: Editor,
    cooked: Cooked,
    pending: VecDeque<PendingRead>,
    /// The processes Ctrl-C interrupts (set by the shell).
    foreground: Vec<usize>,
    /// `struct winsize` of the terminal: rows, columns, x and y pixels.
    winsize: [u16; 4],
}

/// The fds both threads use.
#[derive(Clone, Copy)]
struct Fds {
    debug: usize,
    queue: usize,
}

fn main(_args: Args) -> i32 {
    let debug = match sys::open(DEBUG, O_RDWR) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("consoled: cannot open {DEBUG}: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let server = match Server::register(NAME) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("consoled: cannot register {NAME}: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let fds = Fds { debug, queue: server.fd() };
    let state = Arc::new(Mutex::new(State {
        editor: Editor::default(),
        cooked: Cooked::default(),
        pending: VecDeque::new(),
        foreground: Vec::new(),
        winsize: DEFAULT_WINSIZE,
    }));
    let input_state = state.clone();
    let input = match thread::spawn(move || read_input(fds, &input_state)) {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("consoled: cannot start the input thread: {e} (errno {})", e.errno);
            return 1;
        }
    };
    let error = serve(fds, &state);
    eprintln!("consoled: serving {NAME}: stopped: {error} (errno {})", error.errno);
    // The input thread reads for ever; exiting the process ends it.
    core::mem::forget(input);
    1
}

/// The input thread: typed bytes through the editor, forever (until
/// `debug:` fails).
fn read_input(fds: Fds, state: &Mutex<State>) {
    let mut buf = [0u8; 64];
    loop {
        let n = match sys::read(fds.debug, &mut buf) {
            Ok(n) => n,
            Err(e) if e.errno == EINTR => continue,
            Err(e) => {
                eprintln!("consoled: reading {DEBUG} failed: {e} (errno {})", e.errno);
                return;
            }
        };
        let mut echo = Vec::new();
        let mut state = state.lock();
        let mut interrupted = false;
        for &byte in &buf[..n.min(buf.len())] {
            match state.editor.feed(byte, &mut echo) {
                Some(Event::Line(line)) => {
                    let kept = state.cooked.push_line(line);
                    // A full type-ahead queue drops the line, with a bell.
                    if !kept {
                        echo.push(0x07);
                    }
                }
                Some(Event::Eof) => state.cooked.push_eof(),
                Some(Event::Interrupt) => {
                    state.cooked.clear();
                    interrupted = true;
                }
                None => {}
            }
        }
        let _ = io::write_all(fds.debug, &echo);
        if interrupted {
            interrupt(&mut state);
        }
        deliver(fds, &mut state);
    }
}

/// Ctrl-C: SIGINT to the foreground processes and everything they
/// started; their pending reads are dropped. With no foreground, a
/// waiting reader gets an empty line.
fn interrupt(state: &mut State) {
    let table = processes();
    let mut targets: Vec<usize> =
        state.foreground.iter().copied().filter(|&pid| table.iter().any(|p| p.pid == pid && p.alive)).collect();
    // Descendants, breadth first (a pipeline stage that forked, `sh -c`).
    let mut i = 0;
    while i < targets.len() {
        let parent = targets[i];
        for p in &table {
            if p.alive && p.ppid == parent && !targets.contains(&p.pid) {
                targets.push(p.pid);
            }
        }
        i += 1;
    }
    if targets.is_empty() {
        let _ = state.cooked.push_line(alloc::vec![b'\n']);
        return;
    }
    for &pid in &targets {
        let _ = sys::kill(pid, SIGINT);
    }
    state.pending.retain(|read| !targets.contains(&read.caller));
}

/// Answers pending reads while there is input for them; a read whose
/// process has ended is dropped (its answer would be lost).
fn deliver(fds: Fds, state: &mut State) {
    let mut table: Option<Vec<Process>> = None;
    while state.cooked.ready() {
        let Some(read) = state.pending.pop_front() else { return };
        let table = table.get_or_insert_with(processes);
        if !table.iter().any(|p| p.pid == read.caller && p.alive) {
            continue;
        }
        if let Some(bytes) = state.cooked.take(read.len) {
            respond(fds.queue, read.tag, Ok(&bytes));
        }
    }
}

/// Writes the answer to request `tag`: `Ok(bytes)` read, or an error.
fn respond(queue: usize, tag: u32, result: Result<&[u8]>) {
    let (value, payload) = match result {
        Ok(bytes) => (Ok(bytes.len()), bytes),
        Err(e) => (Err(e), &[][..]),
    };
    let cqe =
        Cqe { flags: CqeOpcode::RespondRegular as u8, extra_raw: [0, 0, 0], tag, result: Error::mux(value) as u64 };
    let mut message = Vec::with_capacity(CQE_BYTES + payload.len());
    message.extend_from_slice(&cqe);
    message.extend_from_slice(payload);
    if let Err(e) = sys::write(queue, &message) {
        eprintln!("consoled: the kernel refused an answer: {e}");
    }
}

/// The request thread: terminal reads are queued (and answered when input
/// is there), everything else goes through the runtime's `answer`.
/// Returns the error that stopped it.
fn serve(fds: Fds, state: &Arc<Mutex<State>>) -> Error {
    let mut request = alloc::vec![0u8; MESSAGE_MAX_BYTES];
    let mut response = Vec::with_capacity(MESSAGE_MAX_BYTES);
    let mut handles = Handles { fds, state: state.clone() };
    loop {
        let n = match sys::read(fds.queue, &mut request) {
            Ok(n) => n,
            Err(e) if e.errno == EINTR => continue,
            Err(e) => return e,
        };
        let message = &request[..n.min(request.len())];
        if let Some((sqe, _)) = split_request(message)
            && sqe.opcode == Opcode::Read as u8
            && sqe.args[0] == TERMINAL as u64
        {
            let len = (sqe.args[2] as usize).min(RESPONSE_PAYLOAD_MAX_BYTES);
            let mut state = state.lock();
            state.pending.push_back(PendingRead { tag: sqe.tag, len, caller: sqe.caller as usize });
            deliver(fds, &mut state);
            continue;
        }
        if scheme::answer(&mut handles, message, &mut response)
            && let Err(e) = sys::write(fds.queue, &response)
        {
            eprintln!("consoled: the kernel refused an answer: {e}");
        }
    }
}

/// Every request but a terminal read.
struct Handles {
    fds: Fds,
    state: Arc<Mutex<State>>,
}

impl Scheme for Handles {
    fn open(&mut self, path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        match path.trim_matches('/') {
            "" => Ok(Opened { id: TERMINAL, positioned: false }),
            "control" => Ok(Opened { id: CONTROL, positioned: false }),
            _ => Err(Error::new(ENOENT)),
        }
    }

    fn dup(&mut self, id: usize, name: &[u8], _ctx: &CallerCtx) -> Result<Opened> {
        match name {
            b"" => Ok(Opened { id, positioned: false }),
            b"control" => Ok(Opened { id: CONTROL, positioned: false }),
            b"winsize" if id == TERMINAL => Ok(Opened { id: WINSIZE, positioned: false }),
            _ => Err(Error::new(ENOENT)),
        }
    }

    /// Control and window-size handles get here: a window-size read gives
    /// the 8 bytes of `struct winsize`; a control handle has nothing to read.
    fn read(&mut self, id: usize, buf: &mut [u8], _offset: u64) -> Result<usize> {
        match id {
            WINSIZE if buf.len() >= 8 => {
                let size = self.state.lock().winsize;
                for (out, value) in buf.chunks_exact_mut(2).zip(size) {
                    out.copy_from_slice(&value.to_ne_bytes());
                }
                Ok(8)
            }
            WINSIZE => Err(Error::new(EINVAL)),
            _ => Err(Error::new(EBADF)),
        }
    }

    fn write(&mut self, id: usize, buf: &[u8], _offset: u64) -> Result<usize> {
        match id {
            TERMINAL => {
                io::write_all(self.fds.debug, buf)?;
                Ok(buf.len())
            }
            CONTROL => {
                let text = core::str::from_utf8(buf).map_err(|_| Error::new(EINVAL))?;
                let mut words = text.split_whitespace();
                let command = words.next();
                let pids: Option<Vec<usize>> = words.map(|w| w.parse().ok()).collect();
                let pids = pids.ok_or(Error::new(EINVAL))?;
                let mut state = self.state.lock();
                match command {
                    Some("fg") => state.foreground = pids,
                    Some("add") => state.foreground.extend(pids),
                    _ => return Err(Error::new(EINVAL)),
                }
                Ok(buf.len())
            }
            WINSIZE => {
                let bytes: &[u8; 8] = buf.try_into().map_err(|_| Error::new(EINVAL))?;
                let mut size = [0u16; 4];
                for (value, pair) in size.iter_mut().zip(bytes.chunks_exact(2)) {
                    *value = u16::from_ne_bytes([pair[0], pair[1]]);
                }
                self.state.lock().winsize = size;
                Ok(8)
            }
            _ => Err(Error::new(EBADF)),
        }
    }

    fn fstat(&mut self, _id: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = MODE_CHR | 0o666;
        Ok(())
    }

    fn fsync(&mut self, _id: usize) -> Result<()> {
        Ok(())
    }
}

/// One line of `sys:processes`.
struct Process {
    pid: usize,
    ppid: usize,
    alive: bool,
}

/// The process table (`pid ppid state ...` after a header line); empty if
/// it cannot be read.
fn processes() -> Vec<Process> {
    let text = io::read_file("sys:processes").unwrap_or_default();
    let text = core::str::from_utf8(&text).unwrap_or("");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut fields = line.split(' ');
            let pid = fields.next()?.parse().ok()?;
            let ppid = fields.next()?.parse().ok()?;
            Some(Process { pid, ppid, alive: fields.next()? == "alive" })
        })
        .collect()
}
