//! `kvd`: a key-value scheme daemon serving `kv:`, for the `user-scheme`
//! test (and as the smallest example of `tessera_runtime::scheme`).
//!
//! | path | what |
//! |---|---|
//! | `kv:KEY` | a value: `O_CREAT` makes it (empty), else ENOENT if missing; `O_TRUNC` empties it. Read, write (at the kernel-kept offset: files are positioned), fstat (`MODE_FILE`, size), ftruncate, fsync. At most [`VALUE_MAX_BYTES`]. |
//! | `kv:.handles` | read-only text: how many files the daemon has open, this one included — a test's leak check |
//! | `kv:.gate` | read-only; a read writes one byte to fd `SIGNAL`, then waits for one byte on fd `GATE` and gives `open\n` — lets a test hold the daemon busy, and know when it is |
//!
//! Usage: `kvd [--gate GATE SIGNAL]` (fds it inherited, normally pipe
//! ends). It serves until killed; it exits with 1 if `kv:` cannot be
//! registered or its queue fails, 2 for bad arguments.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::{EACCES, EBADF, ENOENT, ENOSPC, EOPNOTSUPP};
use tessera_runtime::abi::flag::{MODE_FILE, O_CREAT, O_TRUNC};
use tessera_runtime::abi::{Error, Result, Stat};
use tessera_runtime::scheme::{self, CallerCtx, Opened};
use tessera_runtime::{Args, eprintln, sys};

tessera_runtime::entry!(main);

/// Largest value.
const VALUE_MAX_BYTES: usize = 256 * 1024;

/// What an open file of the daemon is.
enum File {
    Value(String),
    /// `.handles`: the text made at open.
    Text(Vec<u8>),
    Gate,
}

#[derive(Default)]
struct Kv {
    values: BTreeMap<String, Vec<u8>>,
    files: BTreeMap<usize, File>,
    next_id: usize,
    /// `--gate`: (the fd to wait on, the fd to signal on).
    gate: Option<(usize, usize)>,
}

impl Kv {
    fn file(&self, id: usize) -> Result<&File> {
        self.files.get(&id).ok_or(Error::new(EBADF))
    }

    /// The value behind `id` (EACCES for the special files).
    fn value(&mut self, id: usize) -> Result<&mut Vec<u8>> {
        match self.files.get(&id).ok_or(Error::new(EBADF))? {
            File::Value(key) => Ok(self.values.entry(key.clone()).or_default()),
            _ => Err(Error::new(EACCES)),
        }
    }
}

/// Copies `data[offset..]` into `buf`.
fn read_at(data: &[u8], buf: &mut [u8], offset: u64) -> usize {
    let rest = usize::try_from(offset).ok().and_then(|o| data.get(o..)).unwrap_or(&[]);
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

impl scheme::Scheme for Kv {
    fn open(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        let file = match path {
            ".handles" => File::Text(format!("{}\n", self.files.len() + 1).into_bytes()),
            ".gate" => File::Gate,
            "" => return Err(Error::new(ENOENT)),
            key => {
                if flags & O_CREAT != 0 {
                    self.values.entry(key.into()).or_default();
                }
                let value = self.values.get_mut(key).ok_or(Error::new(ENOENT))?;
                if flags & O_TRUNC != 0 {
                    value.clear();
                }
                File::Value(key.into())
            }
        };
        let id = self.next_id;
        self.next_id += 1;
        self.files.insert(id, file);
        Ok(Opened { id, positioned: true })
    }

    fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        match self.file(id)? {
            File::Value(key) => Ok(read_at(self.values.get(key).map_or(&[], Vec::as_slice), buf, offset)),
            File::Text(text) => Ok(read_at(text, buf, offset)),
            File::Gate => {
                let (gate, signal) = self.gate.ok_or(Error::new(EOPNOTSUPP))?;
                sys::write(signal, b"w")?;
                sys::read(gate, &mut [0u8; 1])?;
                Ok(read_at(b"open\n", buf, offset))
            }
        }
    }

    fn write(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        let value = self.value(id)?;
        let start = usize::try_from(offset).map_err(|_| Error::new(ENOSPC))?;
        let end = start.checked_add(buf.len()).filter(|&end| end <= VALUE_MAX_BYTES).ok_or(Error::new(ENOSPC))?;
        if value.len() < end {
            value.resize(end, 0);
        }
        value[start..end].copy_from_slice(buf);
        Ok(buf.len())
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        let size = match self.file(id)? {
            File::Value(key) => self.values.get(key).map_or(0, Vec::len),
            File::Text(text) => text.len(),
            File::Gate => 0,
        };
        stat.st_mode = MODE_FILE | 0o644;
        stat.st_size = size as u64;
        Ok(())
    }

    fn fsync(&mut self, id: usize) -> Result<()> {
        self.file(id).map(drop)
    }

    fn ftruncate(&mut self, id: usize, len: u64) -> Result<()> {
        let value = self.value(id)?;
        let len = usize::try_from(len).ok().filter(|&len| len <= VALUE_MAX_BYTES).ok_or(Error::new(ENOSPC))?;
        value.resize(len, 0);
        Ok(())
    }

    fn close(&mut self, id: usize) {
        self.files.remove(&id);
    }
}

fn main(args: Args) -> i32 {
    let mut kv = Kv::default();
    match args.argv() {
        [_] => {}
        [_, "--gate", gate, signal] => match (gate.parse(), signal.parse()) {
            (Ok(gate), Ok(signal)) => kv.gate = Some((gate, signal)),
            _ => {
                eprintln!("kvd: bad fds {gate:?} {signal:?}");
                return 2;
            }
        },
        _ => {
            eprintln!("usage: kvd [--gate GATE SIGNAL]");
            return 2;
        }
    }
    let error = scheme::serve("kv", &mut kv);
    eprintln!("kvd: serving kv: stopped: {error} (errno {})", error.errno);
    1
}
