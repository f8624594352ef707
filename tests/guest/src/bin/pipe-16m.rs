//! `pipe-16m`: a pipe carries 16 MiB between two processes intact, and its
//! ends behave at the edges.
//!
//! | check | expected |
//! |---|---|
//! | a writer child sends 16 MiB of a seeded pseudo-random stream in pieces of random size; a reader child reads with buffers of random size | the reader gets exactly 16 MiB, byte for byte the stream (first bad offset reported), with the FNV-1a hash the parent computed; both children exit 0 |
//! | read after the writer closed | the rest of the data, then 0 (end of file), and 0 again |
//! | write with the read end closed | `EPIPE` |
//! | the only reader is killed while blocked in `read` | the writer's next write fails with `EPIPE` (the killed reader's end was closed) |
//! | the reader goes while a writer is blocked on a full pipe | the blocked write returns a short count, the next one `EPIPE` |
//! | the only writer is killed while blocked on a full pipe | the reader gets what was buffered, then end of file |
//!
//! The seed is printed; the same seed gives the same stream on both arches.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec;

use tessera_guest_tests::rng::{ByteStream, Fnv1a, Rng};
use tessera_guest_tests::system::{fork_with, read_words, reap, write_words};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::error::EPIPE;
use tessera_runtime::abi::signal::SIGKILL;
use tessera_runtime::{Args, io, println, sys};

tessera_runtime::entry!(main);

/// Bytes sent through the pipe.
const TOTAL_BYTES: usize = 16 << 20;
/// Seed of the stream (and, xor'ed, of the piece sizes).
const SEED: u64 = 0x1600_0000_5EED_0001;
/// Largest piece a `write` or `read` in the big transfer moves.
const MAX_PIECE_BYTES: usize = 64 * 1024;
/// More than any pipe buffers: a write this big must block part way.
const BIG_WRITE_BYTES: usize = 256 * 1024;
/// Yields that let a child run until it blocks.
const LET_RUN_YIELDS: usize = 20;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("pipe-16m");
    transfer(&mut checks);
    eof(&mut checks);
    epipe(&mut checks);
    killed_reader(&mut checks);
    reader_leaves_blocked_writer(&mut checks);
    killed_writer(&mut checks);
    checks.finish()
}

fn let_children_run() {
    for _ in 0..LET_RUN_YIELDS {
        let _ = sys::sched_yield();
    }
}

/// The stream's hash, computed here without any pipe.
fn expected_hash() -> u64 {
    let mut stream = ByteStream::new(SEED);
    let mut hash = Fnv1a::new();
    let mut buf = vec![0u8; MAX_PIECE_BYTES];
    let mut left = TOTAL_BYTES;
    while left > 0 {
        let n = left.min(buf.len());
        stream.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        left -= n;
    }
    hash.0
}

/// The writer child: the stream in pieces of random size, then close.
fn writer(w: usize) -> i32 {
    let mut stream = ByteStream::new(SEED);
    let mut sizes = Rng::new(SEED ^ 0x5717);
    let mut buf = vec![0u8; MAX_PIECE_BYTES];
    let mut sent = 0;
    while sent < TOTAL_BYTES {
        let n = sizes.between(1, MAX_PIECE_BYTES).min(TOTAL_BYTES - sent);
        stream.fill(&mut buf[..n]);
        if let Err(e) = io::write_all(w, &buf[..n]) {
            println!("pipe-16m: writer: write failed after {sent} bytes: {e}");
            return 1;
        }
        sent += n;
    }
    match sys::close(w) {
        Ok(()) => 0,
        Err(e) => {
            println!("pipe-16m: writer: close: {e}");
            2
        }
    }
}

/// The reader child: reads until end of file with buffers of random size,
/// compares every byte with the stream it regenerates, and reports
/// `[length, hash, first bad offset or u64::MAX, read after EOF]` on
/// `report`.
fn reader(r: usize, report: usize) -> i32 {
    let mut stream = ByteStream::new(SEED);
    let mut sizes = Rng::new(SEED ^ 0x4EAD);
    let mut hash = Fnv1a::new();
    let (mut buf, mut want) = (vec![0u8; MAX_PIECE_BYTES], vec![0u8; MAX_PIECE_BYTES]);
    let (mut received, mut first_bad) = (0u64, u64::MAX);
    loop {
        let size = sizes.between(1, MAX_PIECE_BYTES);
        let n = match sys::read(r, &mut buf[..size]) {
            Ok(0) => break,
            Ok(n) if n <= size => n,
            Ok(n) => {
                println!("pipe-16m: reader: read returned {n} for a {size}-byte buffer");
                return 1;
            }
            Err(e) => {
                println!("pipe-16m: reader: read failed after {received} bytes: {e}");
                return 1;
            }
        };
        stream.fill(&mut want[..n]);
        if first_bad == u64::MAX
            && let Some(i) = buf[..n].iter().zip(&want[..n]).position(|(a, b)| a != b)
        {
            first_bad = received + i as u64;
        }
        hash.update(&buf[..n]);
        received += n as u64;
    }
    let mut byte = [0u8; 1];
    let after_eof = match sys::read(r, &mut byte) {
        Ok(n) => n as u64,
        Err(e) => 1000 + e.errno as u64,
    };
    i32::from(write_words(report, &[received, hash.0, first_bad, after_eof]).is_err())
}

/// 16 MiB from one child to another.
fn transfer(checks: &mut Checks) {
    println!("pipe-16m: seed {SEED:#x}, {TOTAL_BYTES} bytes");
    let expected = expected_hash();
    let (Ok([r, w]), Ok([report_r, report_w])) = (sys::pipe2(0), sys::pipe2(0)) else {
        return checks.check("pipe2", false, format_args!("failed"));
    };
    let writer_pid = fork_with(|| {
        for fd in [r, report_r, report_w] {
            let _ = sys::close(fd);
        }
        writer(w)
    });
    let reader_pid = fork_with(|| {
        for fd in [w, report_r] {
            let _ = sys::close(fd);
        }
        reader(r, report_w)
    });
    // The parent keeps no end: the reader's end of file depends on it.
    for fd in [r, w, report_w] {
        let _ = sys::close(fd);
    }
    let report = read_words::<4>(report_r);
    let _ = sys::close(report_r);
    match report {
        Some([received, hash, first_bad, after_eof]) => {
            checks.check(
                "the reader got exactly 16 MiB",
                received == TOTAL_BYTES as u64,
                format_args!("got {received} bytes"),
            );
            checks.check(
                "every byte is the stream's",
                first_bad == u64::MAX,
                format_args!("first wrong byte at offset {first_bad}"),
            );
            checks.check(
                "the FNV-1a hash matches",
                hash == expected,
                format_args!("reader {hash:#018x}, expected {expected:#018x}"),
            );
            checks.check(
                "read after end of file gives 0 again",
                after_eof == 0,
                format_args!("got {after_eof} (1000+errno for an error)"),
            );
        }
        None => checks.check("the reader reports", false, format_args!("no report")),
    }
    for (what, pid) in [("writer", writer_pid), ("reader", reader_pid)] {
        match pid.and_then(reap) {
            Ok((_, status)) => {
                checks.check(&alloc::format!("the {what} exits 0"), status.success(), format_args!("{status}"))
            }
            Err(e) => checks.check(&alloc::format!("the {what} runs"), false, format_args!("{e}")),
        }
    }
}

/// Buffered data first, then end of file once the write end is closed.
fn eof(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let _ = sys::write(w, b"tail!");
    let _ = sys::close(w);
    let mut buf = [0u8; 16];
    let first = sys::read(r, &mut buf);
    checks.check(
        "read after the writer closed returns the buffered bytes",
        matches!(first, Ok(5)) && &buf[..5] == b"tail!",
        format_args!("got {}", Shown(first)),
    );
    let second = sys::read(r, &mut buf);
    checks.check("then 0: end of file", matches!(second, Ok(0)), format_args!("got {}", Shown(second)));
    let _ = sys::close(r);
}

/// No reader: EPIPE.
fn epipe(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let _ = sys::close(r);
    checks.expect_errno("write with the read end closed", sys::write(w, b"x"), EPIPE);
    let _ = sys::close(w);
}

/// The only reader, blocked in `read`, is killed: its end must close.
fn killed_reader(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let child = fork_with(|| {
        let _ = sys::close(w);
        let mut byte = [0u8; 1];
        let _ = sys::read(r, &mut byte);
        // Only a byte or end of file gets here; neither comes.
        3
    });
    let _ = sys::close(r);
    let Ok(child) = child else { return checks.check("fork", false, format_args!("failed")) };
    let_children_run();
    let killed = sys::kill(child, SIGKILL);
    checks.check("kill(reader blocked in read, SIGKILL)", killed.is_ok(), format_args!("{killed:?}"));
    match reap(child) {
        Ok((_, status)) => {
            checks.check("the reader dies of SIGKILL", status.signal() == Some(SIGKILL), format_args!("{status}"))
        }
        Err(e) => checks.check("reap the reader", false, format_args!("{e}")),
    }
    checks.expect_errno("write after the only reader was killed", sys::write(w, b"x"), EPIPE);
    let _ = sys::close(w);
}

/// A writer blocked on a full pipe is released when the reader goes.
fn reader_leaves_blocked_writer(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let child = fork_with(|| {
        let _ = sys::close(r);
        let data = vec![0x5Au8; BIG_WRITE_BYTES];
        let short = sys::write(w, &data);
        let next = sys::write(w, b"x");
        let short_ok = matches!(short, Ok(n) if n > 0 && n < BIG_WRITE_BYTES);
        let next_ok = matches!(next, Err(e) if e.errno == EPIPE);
        if !short_ok || !next_ok {
            println!("pipe-16m: blocked writer: first write {}, second {}", Shown(short), Shown(next));
        }
        i32::from(!short_ok) | i32::from(!next_ok) << 1
    });
    let _ = sys::close(w);
    let Ok(child) = child else { return checks.check("fork", false, format_args!("failed")) };
    let_children_run();
    let mut byte = [0u8; 1];
    let got = sys::read(r, &mut byte);
    checks.check("read one byte of the big write", matches!(got, Ok(1)), format_args!("{}", Shown(got)));
    let_children_run();
    let _ = sys::close(r);
    match reap(child) {
        Ok((_, status)) => checks.check(
            "the blocked write returns a short count once the reader is gone, the next EPIPE",
            status.success(),
            format_args!("{status} (bit 0: short count wrong, bit 1: no EPIPE)"),
        ),
        Err(e) => checks.check("reap the writer", false, format_args!("{e}")),
    }
}

/// The only writer, blocked on a full pipe, is killed: the reader gets the
/// buffered bytes and then end of file (not a wait forever).
fn killed_writer(checks: &mut Checks) {
    let Ok([r, w]) = sys::pipe2(0) else { return checks.check("pipe2", false, format_args!("failed")) };
    let child = fork_with(|| {
        let _ = sys::close(r);
        let data = vec![0xA5u8; BIG_WRITE_BYTES];
        let _ = sys::write(w, &data);
        4
    });
    let _ = sys::close(w);
    let Ok(child) = child else { return checks.check("fork", false, format_args!("failed")) };
    // One byte read: the writer is inside its big write, which then fills
    // the pipe again and waits.
    let mut buf = vec![0u8; MAX_PIECE_BYTES];
    let mut drained = sys::read(r, &mut buf[..1]).unwrap_or(0);
    let_children_run();
    let killed = sys::kill(child, SIGKILL);
    checks.check("kill(writer blocked on a full pipe, SIGKILL)", killed.is_ok(), format_args!("{killed:?}"));
    match reap(child) {
        Ok((_, status)) => {
            checks.check("the writer dies of SIGKILL", status.signal() == Some(SIGKILL), format_args!("{status}"))
        }
        Err(e) => checks.check("reap the writer", false, format_args!("{e}")),
    }
    let end = loop {
        match sys::read(r, &mut buf) {
            Ok(0) => break Ok(0),
            Ok(n) => drained += n,
            Err(e) => break Err(e),
        }
    };
    let _ = sys::close(r);
    checks.check(
        "the reader drains the buffer and then gets end of file",
        drained > 1 && drained < BIG_WRITE_BYTES && matches!(end, Ok(0)),
        format_args!("{drained} bytes, then {}", Shown(end)),
    );
}
