//! Process and memory helpers for the tests: running a closure in a forked
//! child, reaping it, reading whole messages from pipes, and the kernel's
//! free-frame count from `sys:memory`.

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::{EINTR, EINVAL};
use tessera_runtime::sys::{self, Fork, WaitStatus};
use tessera_runtime::{Error, Result, io};

/// Runs `body` in a forked child, which exits with the status `body`
/// returns (`& 0xFF`); the parent gets the child's pid.
/// Errors: those of `sys::fork`.
pub fn fork_with(body: impl FnOnce() -> i32) -> Result<usize> {
    match sys::fork()? {
        Fork::Parent { pid } => Ok(pid),
        Fork::Child => sys::exit(body() as usize),
    }
}

/// Waits for child `pid` and returns the pid `waitpid` named with the
/// status. Errors: `ECHILD` not a child; `EIO` a blocking `waitpid` that
/// returned no child (a kernel bug).
pub fn reap(pid: usize) -> Result<(usize, WaitStatus)> {
    loop {
        match sys::waitpid(pid, 0) {
            Ok(Some(reaped)) => return Ok(reaped),
            Ok(None) => return Err(Error::new(tessera_runtime::abi::error::EIO)),
            Err(e) if e.errno == EINTR => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Reads from `fd` until `buf` is full or end of file; returns the bytes
/// read. Errors: those of `sys::read`.
pub fn read_full(fd: usize, buf: &mut [u8]) -> Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match sys::read(fd, &mut buf[done..])? {
            0 => break,
            n => done += n,
        }
    }
    Ok(done)
}

/// Writes `words` to `fd` as little-endian `u64`s.
/// Errors: those of `io::write_all`.
pub fn write_words(fd: usize, words: &[u64]) -> Result<()> {
    let mut bytes = [0u8; 64];
    let len = words.len() * 8;
    for (chunk, word) in bytes.chunks_exact_mut(8).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    io::write_all(fd, &bytes[..len.min(bytes.len())])
}

/// Reads `N` little-endian `u64`s from `fd`; `None` on an error or an
/// early end of file.
pub fn read_words<const N: usize>(fd: usize) -> Option<[u64; N]> {
    let mut bytes = [0u8; 64];
    let len = (N * 8).min(bytes.len());
    if read_full(fd, &mut bytes[..len]).ok()? != len {
        return None;
    }
    let mut words = [0u64; N];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        *word = u64::from_le_bytes(chunk.try_into().ok()?);
    }
    Some(words)
}

/// The kernel's free physical frames, from the `free_frames N` line of
/// `sys:memory`. Errors: those of `io::read_file`; `EINVAL` the line is
/// missing or not a number.
pub fn free_frames() -> Result<usize> {
    let text = io::read_file("sys:memory")?;
    let text = String::from_utf8(text).map_err(|_| Error::new(EINVAL))?;
    text.lines()
        .find_map(|line| line.strip_prefix("free_frames "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or(Error::new(EINVAL))
}

/// The kernel's zeroed pool, from the `zeroed_pool N target T hits H
/// misses M idle_zeroed I` line of `sys:memory`: `(N, H)`, the free frames
/// idle CPUs zeroed that are in the pool now, and how many demand-zero
/// frames came from it so far. Errors: those of `io::read_file`; `EINVAL`
/// the line is missing or malformed.
pub fn zeroed_pool() -> Result<(u64, u64)> {
    let text = io::read_file("sys:memory")?;
    let text = String::from_utf8(text).map_err(|_| Error::new(EINVAL))?;
    let line = text.lines().find_map(|line| line.strip_prefix("zeroed_pool ")).ok_or(Error::new(EINVAL))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        [frames, "target", _, "hits", hits, ..] => {
            Ok((frames.parse().map_err(|_| Error::new(EINVAL))?, hits.parse().map_err(|_| Error::new(EINVAL))?))
        }
        _ => Err(Error::new(EINVAL)),
    }
}

/// Each CPU's timer ticks so far, from the `cpuK ticks N ...` lines of
/// `sys:scheduler`. Errors: those of `io::read_file`.
fn cpu_ticks() -> Result<Vec<u64>> {
    let text = io::read_file("sys:scheduler")?;
    let text = String::from_utf8(text).map_err(|_| Error::new(EINVAL))?;
    Ok(text
        .lines()
        .filter(|line| line.starts_with("cpu") && !line.starts_with("cpus"))
        .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
        .collect())
}

/// Sleeps until every CPU has taken a timer tick since the call (at most
/// [`TICK_WAITS`] sleeps of 2 ms). The kernel takes interrupts only in user
/// mode and in its idle wait, never while it finishes a thread that ended,
/// so by then each CPU is done with any thread that was ending before the
/// call (off its process's thread list, kernel stack freed), however long
/// a busy host kept that CPU from running. Errors: reading `sys:scheduler`.
pub fn every_cpu_ticked() -> Result<()> {
    let start = cpu_ticks()?;
    for _ in 0..TICK_WAITS {
        let _ = sys::nanosleep(&tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 2_000_000 }, None);
        let now = cpu_ticks()?;
        if now.len() >= start.len() && start.iter().zip(&now).all(|(before, after)| after > before) {
            break;
        }
    }
    Ok(())
}

/// Most 2 ms sleeps [`every_cpu_ticked`] waits (a tick comes every 10 ms).
const TICK_WAITS: usize = 500;

/// The free-frame count once it has stopped moving: once every CPU has
/// ticked ([`every_cpu_ticked`]), read, then re-read after a short sleep
/// until two reads agree (at most `tries` times). A baseline taken right
/// after a child was reaped could otherwise miss the child's kernel stack,
/// which its CPU frees a moment later (see [`settled_free_frames`]), and
/// the comparison would fail the other way: two reads can agree while a
/// busy host holds that CPU up for longer than the sleep between them.
pub fn quiet_free_frames(tries: usize) -> Result<usize> {
    every_cpu_ticked()?;
    let mut last = free_frames()?;
    for _ in 0..tries {
        let _ = sys::nanosleep(&tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 2_000_000 }, None);
        let now = free_frames()?;
        if now == last {
            break;
        }
        last = now;
    }
    Ok(last)
}

/// Waits until the free-frame count equals `baseline`, yielding between
/// reads, at most `tries` times; returns the last count read.
///
/// Memory a process gave back is not always free at the instant its
/// parent's `waitpid` returns: the kernel frees an ended thread's kernel
/// stack once its CPU has switched away from it, and with several CPUs that
/// may happen a moment later. A leak never comes back, so waiting a few
/// scheduler rounds keeps the comparison exact without making it flaky.
pub fn settled_free_frames(baseline: usize, tries: usize) -> Result<usize> {
    let mut now = free_frames()?;
    if now != baseline {
        // Whatever ended before this call has left its CPU once every CPU
        // ticked (a held-up CPU can take longer than all the tries below).
        every_cpu_ticked()?;
        now = free_frames()?;
    }
    for _ in 0..tries {
        if now == baseline {
            break;
        }
        // Another CPU may still be finishing the process that ended (its
        // loop frees the thread's stack after switching away): wait a
        // little real time, not just a yield.
        let _ = sys::nanosleep(&tessera_runtime::abi::TimeSpec { tv_sec: 0, tv_nsec: 2_000_000 }, None);
        now = free_frames()?;
    }
    Ok(now)
}

/// The number `N` of the virtio disk whose ID (QEMU `serial=`) is `id`, from
/// the listing of `disk:` (virtio-blkd, docs/drivers.md); `None` if it is not
/// listed or `disk:` cannot be read.
pub fn disk_number(id: &str) -> Option<String> {
    let listing = io::read_file("disk:").ok()?;
    let listing = core::str::from_utf8(&listing).ok()?;
    listing.lines().find_map(|line| {
        let (n, rest) = line.split_once(' ')?;
        rest.split(' ').any(|w| w.strip_prefix("id=") == Some(id)).then(|| String::from(n))
    })
}
