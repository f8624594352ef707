//! `echod`: a tiny daemon serving `echo:`, started by init from the test
//! image's `etc/init.rc` (`daemon echod`) so that init's daemon handling is
//! exercised on every test run; `init-daemon` checks it is there.
//!
//! Every open of `echo:` (any path) is a stream of its own: a write appends
//! the bytes (at most [`HELD_MAX_BYTES`] held), a read takes them from the
//! front, and gives 0 when none are held (it never waits: a daemon serves
//! one request at a time). fstat: `MODE_FILE`, the bytes held.
//!
//! Usage: `echod [NAME]`: serves `NAME:` instead of `echo:` (`init-rc`
//! runs one under a second init). It serves until it is killed (init stops
//! it at the end); it exits with 1 if the scheme cannot be registered or
//! its queue fails.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};

use tessera_runtime::abi::error::{EBADF, ENOSPC};
use tessera_runtime::abi::flag::MODE_FILE;
use tessera_runtime::abi::{Error, Result, Stat};
use tessera_runtime::scheme::{self, CallerCtx, Opened};
use tessera_runtime::{Args, eprintln};

tessera_runtime::entry!(main);

/// The most bytes one stream holds.
const HELD_MAX_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Echo {
    streams: BTreeMap<usize, VecDeque<u8>>,
    next_id: usize,
}

impl Echo {
    fn stream(&mut self, id: usize) -> Result<&mut VecDeque<u8>> {
        self.streams.get_mut(&id).ok_or(Error::new(EBADF))
    }
}

impl scheme::Scheme for Echo {
    fn open(&mut self, _path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        let id = self.next_id;
        self.next_id += 1;
        self.streams.insert(id, VecDeque::new());
        Ok(Opened { id, positioned: false })
    }

    fn read(&mut self, id: usize, buf: &mut [u8], _offset: u64) -> Result<usize> {
        let stream = self.stream(id)?;
        let n = stream.len().min(buf.len());
        for (byte, held) in buf.iter_mut().zip(stream.drain(..n)) {
            *byte = held;
        }
        Ok(n)
    }

    fn write(&mut self, id: usize, buf: &[u8], _offset: u64) -> Result<usize> {
        let stream = self.stream(id)?;
        let n = buf.len().min(HELD_MAX_BYTES - stream.len());
        if n == 0 && !buf.is_empty() {
            return Err(Error::new(ENOSPC));
        }
        stream.extend(&buf[..n]);
        Ok(n)
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = MODE_FILE | 0o666;
        stat.st_size = self.stream(id)?.len() as u64;
        Ok(())
    }

    fn close(&mut self, id: usize) {
        self.streams.remove(&id);
    }
}

fn main(args: Args) -> i32 {
    let name = args.argv().get(1).copied().unwrap_or("echo");
    let error = scheme::serve(name, &mut Echo::default());
    eprintln!("echod: serving {name}: stopped: {error} (errno {})", error.errno);
    1
}
