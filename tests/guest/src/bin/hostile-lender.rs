//! `hostile-lender`: a filesystem daemon that lends what it must not. An
//! answer naming memory it does not own fails its `write` (EIO; EINVAL for
//! an address outside user space) and the client's mmap (EIO); a page it
//! gives away after answering is SIGBUS for the client on touch. A client
//! never gets a page that is not the daemon's own memory; the kernel must
//! live.
//!
//! The daemon (a forked child of the test) serves `hostile-fs:`; each file
//! name says how it answers `MmapPrep` for it:
//!
//! | file | the daemon lends | the client must see |
//! |---|---|---|
//! | `foreign` | an address it has nothing mapped at | EIO from mmap |
//! | `kernel` | a kernel address | EIO from mmap |
//! | `phys` | a `memory:physical` mapping of RAM (other processes' frames, or free ones) | EIO from mmap: device and physical mappings are not lent |
//! | `unmap` | its own page, then unmaps it before the client touches it | EIO or SIGBUS |
//! | `protnone` | its own page, then makes it PROT_NONE | EIO or SIGBUS |
//! | `fork` | its own page, then forks (the page becomes copy-on-write) | SIGBUS, or the page's own bytes |
//!
//! Each client maps lazily (the page is fetched on first touch, after the
//! daemon's move) in a forked child. The daemon counts the answers the
//! kernel refused, by errno, and the test reads them from the file
//! `refused`: EIO for `foreign` and `phys`, EINVAL for `kernel`. Before it
//! serves, the daemon also sends bad take-back messages (misaligned,
//! overflowing, malformed: EINVAL; a kernel range, all of user space with
//! nothing lent: 0; evictions misaligned or over 2 MiB: EINVAL, one of
//! nothing lent: 0) and counts the answers that were as expected (the
//! third word of `refused`). At the end the daemon is killed and free
//! frames are back.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::mm::{Memory, PAGE, frames_back, read_word, write_word};
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::{EINVAL, EIO, ENOENT};
use tessera_runtime::abi::flag::O_RDWR;
use tessera_runtime::abi::scheme::MESSAGE_MAX_BYTES;
use tessera_runtime::abi::signal::{SIGBUS, SIGKILL};
use tessera_runtime::mm::{self, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MapFlags, PROT_NONE, PROT_READ, PROT_RW};
use tessera_runtime::scheme::{CallerCtx, Opened, Scheme, Server, answer};
use tessera_runtime::{Args, Error, Result, io, sys};

tessera_runtime::entry!(main);

/// What every word of the daemon's lent pages holds.
const PATTERN: u64 = 0x1E4D_E4B0_0C0F_FEE5;
/// Files, in the order of their ids.
const FILES: [&str; 6] = ["foreign", "kernel", "phys", "unmap", "protnone", "fork"];
/// The file whose contents are the refused answers: EIO and EINVAL counts.
const REFUSED: &str = "refused";
/// Its id (after the lending files').
const REFUSED_ID: usize = FILES.len();
/// Redox's MAP_LAZY: fetch file pages on first touch.
const MAP_LAZY: MapFlags = MapFlags::from_bits_retain(0x10);
/// Exit statuses of a client child.
const GOT_PATTERN: i32 = 10;
const GOT_OTHER: i32 = 11;
const MAP_EIO: i32 = 12;
const MAP_OTHER_ERROR: i32 = 13;

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("hostile-lender");
    let before = Memory::read();
    let daemon = fork_with(daemon);
    let Ok(daemon) = daemon else {
        checks.check("start the daemon", false, format_args!("fork failed"));
        return checks.finish();
    };
    if !wait_for_scheme() {
        checks.check("the daemon serves hostile-fs:", false, format_args!("never appeared"));
    } else {
        for (id, name) in FILES.iter().enumerate() {
            case(&mut checks, id, name);
        }
        let refused = refused();
        checks.check(
            "the daemon's writes of foreign and phys failed with EIO, of kernel with EINVAL",
            refused.is_some_and(|r| r[..2] == [2, 1]),
            format_args!("[EIO, EINVAL] refusals: {refused:?}"),
        );
        checks.check(
            "bad take-back messages: EINVAL, or nothing to take back",
            refused.is_some_and(|r| r[2] == TAKE_BACK_CASES as u64),
            format_args!("as expected: {:?} of {TAKE_BACK_CASES}", refused.map(|r| r[2])),
        );
    }
    let _ = sys::kill(daemon, SIGKILL);
    let _ = reap(daemon);
    frames_back(&mut checks, before);
    checks.finish()
}

fn wait_for_scheme() -> bool {
    for _ in 0..200 {
        match sys::open("hostile-fs:foreign", O_RDWR) {
            Ok(fd) => {
                let _ = sys::close(fd);
                return true;
            }
            Err(_) => {
                let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 10_000_000 }, None);
            }
        }
    }
    false
}

/// The daemon's refused answers: `[EIO count, EINVAL count, take backs as
/// expected]`.
fn refused() -> Option<[u64; 3]> {
    let text = io::read_file(&format!("hostile-fs:{REFUSED}")).ok()?;
    let word = |i: usize| Some(u64::from_le_bytes(text.get(i * 8..i * 8 + 8)?.try_into().ok()?));
    Some([word(0)?, word(1)?, word(2)?])
}

/// Maps `name` lazily in a child, asks the daemon to make its move, touches
/// the page; checks the child's fate.
fn case(checks: &mut Checks, id: usize, name: &str) {
    let status = fork_with(|| {
        let Ok(fd) = sys::open(&format!("hostile-fs:{name}"), O_RDWR) else { return MAP_OTHER_ERROR };
        // SAFETY: not fixed; the new mapping replaces nothing.
        let mapped = unsafe { mm::mmap(0, PAGE, PROT_READ, MAP_SHARED | MAP_LAZY, fd, 0) };
        let addr = match mapped {
            Ok(addr) => addr,
            Err(e) if e.errno == EIO => return MAP_EIO,
            Err(_) => return MAP_OTHER_ERROR,
        };
        // The daemon's move (a write to the file), then the first touch.
        let _ = sys::write(fd, b"move");
        if read_word(addr) == PATTERN { GOT_PATTERN } else { GOT_OTHER }
    })
    .and_then(reap);
    let pattern_ok = name == "fork";
    // Answers naming memory the daemon does not own are refused at once.
    let refused = matches!(name, "foreign" | "kernel" | "phys");
    let ok = match status {
        Ok((_, s)) if s.signal() == Some(SIGBUS) => !refused,
        Ok((_, s)) if s.code() == Some(MAP_EIO as usize) => true,
        Ok((_, s)) if s.code() == Some(GOT_PATTERN as usize) => pattern_ok,
        _ => false,
    };
    let expected = match (refused, pattern_ok) {
        (true, _) => "EIO from mmap",
        (false, true) => "SIGBUS, EIO or the page's own bytes",
        (false, false) => "EIO or SIGBUS",
    };
    let what = format!("{name}: {expected}");
    match status {
        Ok((_, s)) => checks.check(&what, ok, format_args!("the client {s} (file {id})")),
        Err(e) => checks.check(&what, false, format_args!("fork/waitpid: {e}")),
    }
}

// ---- the daemon ----------------------------------------------------------

struct Lender {
    /// The page lent for each file, once asked.
    pages: Vec<Option<usize>>,
    /// Answers the kernel refused: EIO and EINVAL counts; then how many
    /// take-back messages were answered as expected.
    refused: [u64; 3],
}

/// Take-back ranges the kernel must refuse (EINVAL): misaligned start or
/// length, an end past 2^64.
const BAD_TAKE_BACKS: [(u64, u64); 3] = [(0x1001, 0x1000), (0x1000, 10), (!0xFFF, 0x2000)];

/// Sends the bad take backs and two that name nothing lent, then bad
/// evictions and one naming nothing; returns how many were answered as
/// expected.
fn bad_take_backs(queue: usize) -> u64 {
    use tessera_runtime::abi::scheme::{CQE_BYTES, EVICT_MAX_BYTES, encode_evict, encode_take_back};
    let mut expected = 0;
    for (start, len) in BAD_TAKE_BACKS {
        let refused = sys::write(queue, &encode_take_back(start, len));
        expected += u64::from(matches!(refused, Err(e) if e.errno == EINVAL));
    }
    // A kernel range and all of user space: nothing of ours is lent yet.
    for (start, len) in [(0xFFFF_8000_0000_0000, 0x1000), (0, 1 << 47)] {
        expected += u64::from(sys::write(queue, &encode_take_back(start, len)).is_ok());
    }
    // Malformed: a tag, a short payload.
    let mut tagged = encode_take_back(0, 0x1000);
    tagged[4] = 1;
    let short = encode_take_back(0, 0x1000);
    for malformed in [&tagged[..], &short[..CQE_BYTES + 8]] {
        expected += u64::from(matches!(sys::write(queue, malformed), Err(e) if e.errno == EINVAL));
    }
    // Evictions: misaligned, and longer than one message may be (EINVAL);
    // one naming nothing lent.
    for (start, len) in [(0x1001, 0x1000), (0x1000, EVICT_MAX_BYTES + 0x1000)] {
        expected += u64::from(matches!(sys::write(queue, &encode_evict(start, len)), Err(e) if e.errno == EINVAL));
    }
    expected += u64::from(sys::write(queue, &encode_evict(0, 0x1000)).is_ok());
    expected
}

/// How many take-back messages [`bad_take_backs`] sends.
const TAKE_BACK_CASES: usize = BAD_TAKE_BACKS.len() + 7;

/// Serves `hostile-fs:` by hand (not `Server::run`) to see which answers
/// the kernel refuses.
fn daemon() -> i32 {
    let Ok(server) = Server::register("hostile-fs") else { return 1 };
    let take_backs = bad_take_backs(server.fd());
    let mut lender = Lender { pages: alloc::vec![None; FILES.len()], refused: [0, 0, take_backs] };
    let mut request = alloc::vec![0u8; MESSAGE_MAX_BYTES];
    let mut response = Vec::with_capacity(MESSAGE_MAX_BYTES);
    loop {
        let n = match sys::read(server.fd(), &mut request) {
            Ok(n) => n,
            Err(error) => {
                let _ = io::write_all(2, format!("hostile-fs: {error}\n").as_bytes());
                return 1;
            }
        };
        if !answer(&mut lender, &request[..n], &mut response) {
            continue;
        }
        match sys::write(server.fd(), &response) {
            Err(e) if e.errno == EIO => lender.refused[0] += 1,
            Err(e) if e.errno == EINVAL => lender.refused[1] += 1,
            _ => {}
        }
    }
}

/// A fresh populated page of [`PATTERN`].
fn own_page() -> Result<usize> {
    let page = mm::mmap_anonymous(PAGE, PROT_RW, MAP_PRIVATE | MAP_POPULATE)?;
    for word in 0..PAGE / 8 {
        write_word(page + word * 8, PATTERN);
    }
    Ok(page)
}

/// A `memory:physical` mapping of RAM well inside the guest's 512 MiB
/// (RAM starts at 0 on x86_64's q35 and at 1 GiB on aarch64's virt).
fn physical_page() -> Result<usize> {
    let uname = io::read_file("sys:uname")?;
    let base: usize = if core::str::from_utf8(&uname).unwrap_or("").contains("aarch64") { 0x4000_0000 } else { 0 };
    let fd = sys::open("memory:physical@wb", O_RDWR)?;
    // SAFETY: not fixed; the new mapping replaces nothing.
    let mapped = unsafe { mm::mmap(0, PAGE, PROT_RW, MAP_SHARED, fd, base + (200 << 20)) };
    let _ = sys::close(fd);
    mapped
}

impl Scheme for Lender {
    fn open(&mut self, path: &str, _flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        let path = path.trim_matches('/');
        if path == REFUSED {
            return Ok(Opened { id: REFUSED_ID, positioned: true });
        }
        let id = FILES.iter().position(|f| *f == path).ok_or(Error::new(ENOENT))?;
        Ok(Opened { id, positioned: false })
    }

    /// `refused`: the two counts, little-endian.
    fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        if id != REFUSED_ID {
            return Err(Error::new(EINVAL));
        }
        let mut bytes = [0u8; 24];
        for (word, count) in bytes.chunks_exact_mut(8).zip(self.refused) {
            word.copy_from_slice(&count.to_le_bytes());
        }
        let rest = bytes.get(offset as usize..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn fsize(&mut self, _id: usize) -> Result<u64> {
        Ok(PAGE as u64)
    }

    fn mmap_prep(&mut self, id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<usize> {
        let addr = match *FILES.get(id).ok_or(Error::new(EINVAL))? {
            "foreign" => 0x6000_0000_0000,
            "kernel" => 0xFFFF_8000_0000_0000,
            "phys" => physical_page()?,
            _ => own_page()?,
        };
        self.pages[id] = Some(addr);
        Ok(addr)
    }

    /// "move": do to the lent page what the file's name says.
    fn write(&mut self, id: usize, buf: &[u8], _offset: u64) -> Result<usize> {
        if let Some(page) = self.pages.get(id).copied().flatten() {
            match FILES[id] {
                // SAFETY: the page is the daemon's alone (lent, not used).
                "unmap" => unsafe { mm::munmap(page, PAGE) }?,
                // SAFETY: as above.
                "protnone" => unsafe { mm::mprotect(page, PAGE, PROT_NONE) }?,
                "fork" => {
                    // The child keeps the copy-on-write twin a while.
                    let _ = fork_with(|| {
                        let _ = sys::nanosleep(&TimeSpec { tv_sec: 0, tv_nsec: 100_000_000 }, None);
                        0
                    });
                }
                _ => {}
            }
        }
        Ok(buf.len())
    }

    fn munmap(&mut self, _id: usize, _offset: u64, _size: usize, _flags: usize, _ctx: &CallerCtx) -> Result<()> {
        Ok(())
    }
}
