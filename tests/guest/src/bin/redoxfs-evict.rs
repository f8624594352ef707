//! `redoxfs-evict`: redoxfsd's page cache kept under a tiny limit while
//! mappings much larger than it are read and written, and redoxfsd killed
//! under a client's mapping with init watching.
//!
//! The daemon runs with `--cache-pages 16`; the file has 80 pages. Every
//! word of every page is checked each time (a word per 8 bytes: every byte).
//!
//! | group | checks |
//! |---|---|
//! | start | a 16 MiB image on `file:`, `redoxfsd --mkfs --cache-pages 16` on it as `rfs-evict:`; `/.redoxfsd/cache` says `limit 16` |
//! | write | the 80-page file written with `write()` (pattern A) reads back with `read()` |
//! | shared | MAP_SHARED of the 80 pages: every word reads A and is then stored B through it (one pass); the cache's peak stays ≤ 16; `read()` of the file gives B everywhere (pages evicted meanwhile were written back first); msync(MS_SYNC) 0; `write()` of D over the file: the mapping reads D everywhere (evicted pages were taken back and are fetched again: no stale frame), B stored again in the same pass; msync, `read()` gives B; the mapping reads B; munmap 0; pins back to 0 |
//! | private | MAP_PRIVATE of the 80 pages reads B, C stored to the even pages (copies) in the same pass; after touching every page again (more evictions) the even pages still read C (copies are kept by an eviction) and the odd ones B; `read()` gives B (copies never reach the file); munmap; pins 0 |
//! | cache | `/.redoxfsd/cache`: `pages` and `peak` at most 16, `evictions` > 0, `over-limit` 0 |
//! | remount | the daemon killed, a second redoxfsd (default cache) mounts the image: `read()` and a new mapping give B |
//! | daemon-death | a second init (output on a pipe) runs `daemon redoxfsd … rfs-evict3` and `wait-scheme`; a child maps the file (MAP_LAZY) and reads page 5; the daemon is killed; init reports `init: daemon redoxfsd (pid N) killed by signal 9`; page 5 still reads its data in the child, page 37 (never fetched: outside page 5's 16-page fault-around block) is SIGBUS; the kernel goes on (this test runs on) |
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use tessera_guest_tests::mm::{read_word, write_word};
use tessera_guest_tests::ramfs::start_daemon;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_guest_tests::{Checks, Shown};
use tessera_runtime::abi::flag::{O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET};
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{self, MAP_PRIVATE, MAP_SHARED, MS_SYNC, MapFlags, PROT_READ, PROT_RW};
use tessera_runtime::{Args, io, println, process, sys};

tessera_runtime::entry!(main);

const IMAGE: &str = "file:/redoxfs-evict.img";
const IMAGE_BYTES: usize = 16 << 20;
const RC: &str = "file:/redoxfs-evict.rc";
const FILE: &str = "/big";
const PAGE: usize = 4096;
/// daemon-death's page the child never touches: not in page 5's
/// fault-around block (pages 0-15), so never mapped by its fault.
const NEVER_FETCHED: usize = 37;
const PAGES: usize = 80;
const LIMIT: u64 = 16;
const WORDS: usize = PAGES * PAGE / 8;
const A: u64 = 0xA11C_E000_0000_0000;
const B: u64 = 0xB0B0_0000_0000_0000;
const C: u64 = 0xC0C0_0000_0000_0000;
const D: u64 = 0xD0D0_0000_0000_0000;

/// Redox's MAP_LAZY: fetch file pages on first touch (not at mmap).
const MAP_LAZY: MapFlags = MapFlags::from_bits_retain(0x10);

/// Word `w` of the file under pattern `tag`: every word differs.
fn word(tag: u64, w: usize) -> u64 {
    tag ^ (w as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("redoxfs-evict");
    let image =
        sys::open(IMAGE, O_CREAT | O_TRUNC | O_RDWR).and_then(|fd| sys::ftruncate(fd, IMAGE_BYTES).map(|()| fd));
    checks.check("a 16 MiB image on file:", image.is_ok(), format_args!("{}", Shown(image)));
    if let Ok(fd) = image {
        let _ = sys::close(fd);
    }
    let limit = format!("{LIMIT}");
    let argv = ["redoxfsd", "--mkfs", "--cache-pages", limit.as_str(), IMAGE, "rfs-evict"];
    let Some(daemon) =
        start_daemon(&mut checks, "redoxfsd --mkfs --cache-pages 16 serves rfs-evict:", &argv, "rfs-evict")
    else {
        return checks.finish();
    };
    let stat = cache_stat("rfs-evict", "limit");
    checks.check("start: /.redoxfsd/cache says limit 16", stat == Some(LIMIT), format_args!("{stat:?}"));
    if write_file(&mut checks) {
        shared(&mut checks);
        private(&mut checks);
        cache(&mut checks);
    }
    let _ = sys::kill(daemon, SIGKILL);
    let _ = process::wait(daemon);
    if let Some(second) = start_daemon(
        &mut checks,
        "remount: redoxfsd mounts the image",
        &["redoxfsd", IMAGE, "rfs-evict2"],
        "rfs-evict2",
    ) {
        remount(&mut checks);
        let _ = sys::kill(second, SIGKILL);
        let _ = process::wait(second);
    }
    daemon_death(&mut checks);
    let _ = sys::unlink(IMAGE);
    let _ = sys::unlink(RC);
    checks.finish()
}

/// The value of line `NAME N` of `SCHEME:/.redoxfsd/cache`.
fn cache_stat(scheme: &str, name: &str) -> Option<u64> {
    let text = io::read_file(&format!("{scheme}:/.redoxfsd/cache")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn pins_total(scheme: &str) -> Option<usize> {
    let text = io::read_file(&format!("{scheme}:/.redoxfsd/pins")).ok()?;
    let text = core::str::from_utf8(&text).ok()?;
    text.lines().last()?.strip_prefix("total ")?.trim().parse().ok()
}

/// The whole file through `read()` as words; `None` if it is not
/// `PAGES` pages long.
fn read_words(path: &str) -> Option<Vec<u64>> {
    let fd = sys::open(path, O_RDONLY).ok()?;
    let mut bytes = vec![0u8; PAGES * PAGE];
    let mut done = 0;
    let _ = sys::lseek(fd, 0, SEEK_SET);
    while done < bytes.len() {
        match sys::read(fd, &mut bytes[done..(done + 16 * PAGE).min(PAGES * PAGE)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    let _ = sys::close(fd);
    (done == bytes.len())
        .then(|| bytes.chunks_exact(8).map(|w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8]))).collect())
}

/// The first word index where `words` differs from `expected(w)`.
fn first_wrong(words: &[u64], expected: impl Fn(usize) -> u64) -> Option<usize> {
    words.iter().enumerate().position(|(w, &v)| v != expected(w))
}

/// One pass over the mapping at `addr`: each word is checked against
/// `expected`, then `store` (if any) is written there. The first wrong word.
fn check_and_store(
    addr: usize,
    expected: impl Fn(usize) -> u64,
    store: impl Fn(usize) -> Option<u64>,
) -> Option<usize> {
    let mut wrong = None;
    for w in 0..WORDS {
        if wrong.is_none() && read_word(addr + w * 8) != expected(w) {
            wrong = Some(w);
        }
        if let Some(value) = store(w) {
            write_word(addr + w * 8, value);
        }
    }
    wrong
}

/// The first word of the mapping at `addr` that differs from `expected`.
fn first_wrong_mapped(addr: usize, expected: impl Fn(usize) -> u64) -> Option<usize> {
    (0..WORDS).find(|&w| read_word(addr + w * 8) != expected(w))
}

fn map(path: &str, flags: MapFlags, prot: MapFlags) -> Option<(usize, usize)> {
    let open_flags = if prot.contains(MapFlags::PROT_WRITE) && flags.contains(MAP_SHARED) { O_RDWR } else { O_RDONLY };
    let fd = sys::open(path, open_flags).ok()?;
    // SAFETY: no fixed address: nothing of this test is replaced.
    match unsafe { mm::mmap(0, PAGES * PAGE, prot, flags, fd, 0) } {
        Ok(addr) => Some((fd, addr)),
        Err(_) => {
            let _ = sys::close(fd);
            None
        }
    }
}

fn unmap(fd: usize, addr: usize) -> bool {
    // SAFETY: the test's own file mapping, no longer used.
    let unmapped = unsafe { mm::munmap(addr, PAGES * PAGE) };
    let _ = sys::close(fd);
    unmapped.is_ok()
}

/// Writes the whole file with pattern `tag` through `write()`.
fn write_pattern(path: &str, tag: u64) -> bool {
    let bytes: Vec<u8> = (0..WORDS).flat_map(|w| word(tag, w).to_le_bytes()).collect();
    let written = sys::open(path, O_CREAT | O_WRONLY).and_then(|fd| {
        let mut done = 0;
        while done < bytes.len() {
            done += sys::write(fd, &bytes[done..(done + 8 * PAGE).min(bytes.len())])?;
        }
        sys::close(fd).map(|()| done)
    });
    written == Ok(bytes.len())
}

fn write_file(checks: &mut Checks) -> bool {
    let path = format!("rfs-evict:{FILE}");
    checks.check("write: 80 pages with write()", write_pattern(&path, A), format_args!("failed"));
    let back = read_words(&path).map(|words| first_wrong(&words, |w| word(A, w)));
    checks.check("write: read() gives them back", back == Some(None), format_args!("first wrong word {back:?}"));
    back == Some(None)
}

fn shared(checks: &mut Checks) {
    let path = format!("rfs-evict:{FILE}");
    let Some((fd, addr)) = map(&path, MAP_SHARED, PROT_RW) else {
        return checks.check("shared: mmap 80 pages", false, format_args!("failed"));
    };
    let wrong = check_and_store(addr, |w| word(A, w), |w| Some(word(B, w)));
    checks.check(
        "shared: every word reads A, then B is stored",
        wrong.is_none(),
        format_args!("first wrong word {wrong:?}"),
    );
    let peak = cache_stat("rfs-evict", "peak");
    checks.check(
        "shared: the cache stayed within 16 pages",
        peak.is_some_and(|p| p <= LIMIT),
        format_args!("peak {peak:?}"),
    );
    let by_read = read_words(&path).map(|words| first_wrong(&words, |w| word(B, w)));
    checks.check(
        "shared: read() gives every store (evicted pages were written back)",
        by_read == Some(None),
        format_args!("first wrong word {by_read:?}"),
    );
    let synced = mm::msync(addr, PAGES * PAGE, MS_SYNC);
    checks.check("shared: msync(MS_SYNC)", synced.is_ok(), format_args!("{synced:?}"));
    // write() D over the file: the pages evicted meanwhile are fetched
    // again and show it; a frame an eviction did not take back would still
    // show B.
    checks.check("shared: write() D over the file", write_pattern(&path, D), format_args!("failed"));
    let wrong = check_and_store(addr, |w| word(D, w), |w| Some(word(B, w)));
    checks.check(
        "shared: the mapping shows write()'s D (no stale frame); B stored again",
        wrong.is_none(),
        format_args!("first wrong word {wrong:?}"),
    );
    let synced = mm::msync(addr, PAGES * PAGE, MS_SYNC);
    let by_read = read_words(&path).map(|words| first_wrong(&words, |w| word(B, w)));
    checks.check(
        "shared: msync, read() gives B",
        synced.is_ok() && by_read == Some(None),
        format_args!("{synced:?}, first wrong word {by_read:?}"),
    );
    let wrong = first_wrong_mapped(addr, |w| word(B, w));
    checks.check(
        "shared: the mapping reads B again (pages fetched again)",
        wrong.is_none(),
        format_args!("first wrong word {wrong:?}"),
    );
    checks.check("shared: munmap", unmap(fd, addr), format_args!("failed"));
    let pins = pins_total("rfs-evict");
    checks.check("shared: pins back to 0", pins == Some(0), format_args!("{pins:?}"));
}

fn private(checks: &mut Checks) {
    let path = format!("rfs-evict:{FILE}");
    let Some((fd, addr)) = map(&path, MAP_PRIVATE, PROT_RW) else {
        return checks.check("private: mmap 80 pages", false, format_args!("failed"));
    };
    let even = |w: usize| (w / (PAGE / 8)).is_multiple_of(2);
    let wrong = check_and_store(addr, |w| word(B, w), |w| even(w).then(|| word(C, w)));
    checks.check(
        "private: every word reads B, then C is stored to the even pages",
        wrong.is_none(),
        format_args!("first wrong word {wrong:?}"),
    );
    let expected = |w: usize| if even(w) { word(C, w) } else { word(B, w) };
    let evictions = cache_stat("rfs-evict", "evictions");
    // Touching every page again evicts pages the copies were made from.
    let wrong = first_wrong_mapped(addr, expected);
    let after = cache_stat("rfs-evict", "evictions");
    checks.check(
        "private: copies survive evictions (even pages C, odd B)",
        wrong.is_none() && after > evictions,
        format_args!("first wrong word {wrong:?}, evictions {evictions:?} -> {after:?}"),
    );
    let by_read = read_words(&path).map(|words| first_wrong(&words, |w| word(B, w)));
    checks.check(
        "private: read() gives B (copies never reach the file)",
        by_read == Some(None),
        format_args!("first wrong word {by_read:?}"),
    );
    checks.check("private: munmap", unmap(fd, addr), format_args!("failed"));
    let pins = pins_total("rfs-evict");
    checks.check("private: pins back to 0", pins == Some(0), format_args!("{pins:?}"));
}

fn cache(checks: &mut Checks) {
    let stat = |name| cache_stat("rfs-evict", name);
    let (pages, peak, evictions, over) = (stat("pages"), stat("peak"), stat("evictions"), stat("over-limit"));
    println!("redoxfs-evict: cache pages {pages:?} peak {peak:?} evictions {evictions:?} over-limit {over:?}");
    checks.check("cache: pages within the limit", pages.is_some_and(|p| p <= LIMIT), format_args!("{pages:?}"));
    checks.check("cache: peak within the limit", peak.is_some_and(|p| p <= LIMIT), format_args!("{peak:?}"));
    checks.check("cache: pages were evicted", evictions.is_some_and(|e| e > 0), format_args!("{evictions:?}"));
    checks.check("cache: never over the limit", over == Some(0), format_args!("{over:?}"));
}

fn remount(checks: &mut Checks) {
    let path = format!("rfs-evict2:{FILE}");
    let by_read = read_words(&path).map(|words| first_wrong(&words, |w| word(B, w)));
    checks.check(
        "remount: read() gives B from the disk",
        by_read == Some(None),
        format_args!("first wrong word {by_read:?}"),
    );
    let Some((fd, addr)) = map(&path, MAP_SHARED, PROT_READ) else {
        return checks.check("remount: mmap", false, format_args!("failed"));
    };
    let wrong = first_wrong_mapped(addr, |w| word(B, w));
    checks.check("remount: a new mapping gives B", wrong.is_none(), format_args!("first wrong word {wrong:?}"));
    checks.check("remount: munmap", unmap(fd, addr), format_args!("failed"));
}

/// Reads `fd` (init's output) until a line for which `want` gives
/// `Some`; every line read is added to `seen`. `None` at end of file.
fn read_until<T>(fd: usize, seen: &mut String, mut want: impl FnMut(&str) -> Option<T>) -> Option<T> {
    let mut from = 0;
    loop {
        while let Some(end) = seen[from..].find('\n') {
            let line = &seen[from..from + end];
            from += end + 1;
            if let Some(found) = want(line) {
                return Some(found);
            }
        }
        let mut buf = [0u8; 512];
        match sys::read(fd, &mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
}

/// The pid in `init: WHAT (pid N)…` lines.
fn pid_after(line: &str, prefix: &str) -> Option<usize> {
    line.strip_prefix(prefix)?.strip_prefix(" (pid ")?.split(')').next()?.parse().ok()
}

fn daemon_death(checks: &mut Checks) {
    let rc = "daemon redoxfsd file:/redoxfs-evict.img rfs-evict3\nwait-scheme rfs-evict3\nsleep 100\n";
    let written = sys::open(RC, O_CREAT | O_TRUNC | O_WRONLY).and_then(|fd| {
        let all = io::write_all(fd, rc.as_bytes());
        let _ = sys::close(fd);
        all
    });
    checks.check("daemon-death: the init script", written.is_ok(), format_args!("{written:?}"));
    let (Ok([out_r, out_w]), Ok([ready_r, ready_w]), Ok([go_r, go_w])) = (sys::pipe2(0), sys::pipe2(0), sys::pipe2(0))
    else {
        return checks.check("daemon-death: pipes", false, format_args!("failed"));
    };
    let init = fork_with(|| {
        for fd in [out_r, ready_r, ready_w, go_r, go_w] {
            let _ = sys::close(fd);
        }
        if sys::dup2(out_w, 1).is_err() || sys::dup2(out_w, 2).is_err() {
            return 2;
        }
        let error = sys::execve("initfs:bin/init", &["init", RC], &[]);
        println!("redoxfs-evict: cannot execute init: {error}");
        3
    });
    let _ = sys::close(out_w);
    let Ok(init) = init else {
        return checks.check("daemon-death: fork init", false, format_args!("{init:?}"));
    };
    let mut seen = String::new();
    let daemon = read_until(out_r, &mut seen, |line| pid_after(line, "init: started daemon redoxfsd"));
    let ready = read_until(out_r, &mut seen, |line| {
        line.starts_with("init: scheme rfs-evict3").then(|| line.ends_with("ready"))
    });
    let sleeper = read_until(out_r, &mut seen, |line| pid_after(line, "init: running sleep"));
    checks.check(
        "daemon-death: init started redoxfsd and it serves",
        daemon.is_some() && ready == Some(true) && sleeper.is_some(),
        format_args!("daemon {daemon:?}, ready {ready:?}, sleep {sleeper:?}"),
    );
    let client = fork_with(|| {
        let _ = sys::close(out_r);
        let _ = sys::close(ready_r);
        let _ = sys::close(go_w);
        let path = format!("rfs-evict3:{FILE}");
        let Some((_, addr)) = map(&path, MAP_SHARED | MAP_LAZY, PROT_READ) else { return 10 };
        let fetched = (0..PAGE / 8).all(|i| read_word(addr + 5 * PAGE + i * 8) == word(B, 5 * PAGE / 8 + i));
        let _ = sys::write(ready_w, &[u8::from(fetched)]);
        let mut go = [0u8; 1];
        if sys::read(go_r, &mut go) != Ok(1) {
            return 11;
        }
        let kept = (0..PAGE / 8).all(|i| read_word(addr + 5 * PAGE + i * 8) == word(B, 5 * PAGE / 8 + i));
        let _ = sys::write(ready_w, &[u8::from(kept)]);
        // Never fetched (two fault-around blocks of 16 pages away from page
        // 5), and the daemon is gone: SIGBUS here.
        core::hint::black_box(read_word(addr + NEVER_FETCHED * PAGE));
        12
    });
    let _ = sys::close(ready_w);
    let _ = sys::close(go_r);
    let mut byte = [0u8; 1];
    let fetched = client.is_ok() && sys::read(ready_r, &mut byte) == Ok(1) && byte[0] == 1;
    checks.check("daemon-death: the child's mapping reads page 5", fetched, format_args!("{client:?}, {byte:?}"));
    if let Some(daemon) = daemon {
        let _ = sys::kill(daemon, SIGKILL);
        let prefix = format!("init: daemon redoxfsd (pid {daemon}) ");
        let report = read_until(out_r, &mut seen, |line| line.strip_prefix(prefix.as_str()).map(String::from));
        checks.check(
            "daemon-death: init reports the daemon killed by signal 9",
            report.as_deref().is_some_and(|r| r.starts_with("killed by signal 9")),
            format_args!("{report:?}"),
        );
    }
    let _ = sys::write(go_w, b"g");
    let kept = sys::read(ready_r, &mut byte) == Ok(1) && byte[0] == 1;
    checks.check("daemon-death: the fetched page still reads its data", kept, format_args!("{byte:?}"));
    let status = client.and_then(|pid| reap(pid).map(|(_, status)| status));
    checks.check(
        "daemon-death: a page never fetched is SIGBUS",
        matches!(status, Ok(s) if s.signal() == Some(SIGBUS)),
        format_args!("{status:?}"),
    );
    // The kernel goes on: init's foreground sleep ends, init exits.
    if let Some(sleeper) = sleeper {
        let _ = sys::kill(sleeper, SIGKILL);
    }
    let ended = reap(init);
    checks.check("daemon-death: the second init ends", ended.is_ok(), format_args!("{ended:?}"));
    let _ = read_until(out_r, &mut seen, |_| None::<()>);
    for line in seen.lines() {
        println!("redoxfs-evict: | {line}");
    }
    for fd in [out_r, ready_r, go_w] {
        let _ = sys::close(fd);
    }
}
