//! Memory calls: typed wrappers for `fmap` (mmap), `funmap` (munmap),
//! `mprotect`, `mremap`, `madvise` and `msync`, and a reader for
//! `sys:maps`, the caller's own list of mappings.
//!
//! The calls and their argument layout are `tessera_abi::mm`'s (Redox's
//! `fmap` with a `Map`, plus Linux's `madvise` / `msync`); errors have
//! Linux's meaning. Besides the errnos each wrapper lists, every call may
//! give `ENOSYS` from a kernel without it.
//!
//! Calls that can take memory away from under Rust references (`munmap`,
//! `mprotect`, `mremap`, `madvise(MADV_DONTNEED)`, a `MAP_FIXED` map) are
//! `unsafe fn`s: the caller promises that nothing it still uses lives in
//! the range. [`mmap_anonymous`] places new memory where the kernel likes
//! and is safe.
//!
//! `sys:maps` has one line per mapping, lowest address first, then a total:
//! ```text
//! 0000000000400000-0000000000412000 r-xp image 18
//! 00007fffffbf0000-00007ffffffe0000 rw-p stack 3
//! total mapped_pages 1042 resident_pages 21
//! ```
//! (`START-END`: 16 lowercase hex digits each, `END` exclusive; permissions
//! `r`/`w`/`x` or `-`, then `p` private or `s` shared; the kind of memory;
//! the resident pages.) [`read_maps`] parses it into [`Maps`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use tessera_abi::error::EINVAL;
use tessera_abi::number::{SYS_FMAP, SYS_FUNMAP, SYS_MADVISE, SYS_MPROTECT, SYS_MREMAP, SYS_MSYNC};
use tessera_abi::{Error, Map, Result};

pub use tessera_abi::mm::{ANONYMOUS_FD, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE};
pub use tessera_abi::mm::{MADV_DONTNEED, MADV_NORMAL, MADV_RANDOM, MADV_SEQUENTIAL, MADV_WILLNEED};
pub use tessera_abi::mm::{MS_ASYNC, MS_INVALIDATE, MS_SYNC, MapFlags};

use crate::syscall::{syscall2, syscall3, syscall5};

/// The page size on both arches, in bytes.
pub const PAGE_SIZE: usize = 4096;

/// `PROT_NONE`: no access at all.
pub const PROT_NONE: MapFlags = MapFlags::PROT_NONE;
/// `PROT_READ`.
pub const PROT_READ: MapFlags = MapFlags::PROT_READ;
/// `PROT_WRITE`.
pub const PROT_WRITE: MapFlags = MapFlags::PROT_WRITE;
/// `PROT_EXEC`.
pub const PROT_EXEC: MapFlags = MapFlags::PROT_EXEC;
/// `PROT_READ | PROT_WRITE`, the usual data protection.
pub const PROT_RW: MapFlags = MapFlags::PROT_READ.union(MapFlags::PROT_WRITE);

/// `MAP_SHARED`: stays shared with children across `fork`.
pub const MAP_SHARED: MapFlags = MapFlags::MAP_SHARED;
/// `MAP_PRIVATE`: private to the process, copied on write after `fork`.
pub const MAP_PRIVATE: MapFlags = MapFlags::MAP_PRIVATE;
/// `MAP_FIXED`: exactly at the address given, replacing what was there.
pub const MAP_FIXED: MapFlags = MapFlags::MAP_FIXED;
/// `MAP_FIXED_NOREPLACE`: exactly at the address given, `EEXIST` if
/// anything is mapped there.
pub const MAP_FIXED_NOREPLACE: MapFlags = MapFlags::MAP_FIXED_NOREPLACE;
/// `MAP_POPULATE`: every page faulted in before the call returns.
pub const MAP_POPULATE: MapFlags = MapFlags::from_bits_retain(tessera_abi::mm::MAP_POPULATE);
/// `MAP_GROWSDOWN`: a stack that grows down on faults below it.
pub const MAP_GROWSDOWN: MapFlags = MapFlags::from_bits_retain(tessera_abi::mm::MAP_GROWSDOWN);

/// Maps `len` bytes (rounded up to pages) of the object behind `fd` at
/// `offset`: [`ANONYMOUS_FD`] for anonymous memory, or a `memory:` fd.
/// Without `MAP_FIXED` / `MAP_FIXED_NOREPLACE`, `addr_hint` is only a hint
/// (0: anywhere). `flags` holds exactly one of [`MAP_SHARED`] /
/// [`MAP_PRIVATE`], plus [`MAP_FIXED`], [`MAP_FIXED_NOREPLACE`],
/// [`MAP_POPULATE`]. Returns the address of the mapping.
///
/// Errors: `EINVAL` zero `len`, neither or both of SHARED / PRIVATE, a
/// misaligned fixed address or `offset`, a range that overflows or leaves
/// user space; `ENOMEM` no room (or over the address-space cap), or no
/// memory to populate; `EEXIST` `MAP_FIXED_NOREPLACE` over a mapping;
/// `EBADF` `fd` not open; `EACCES` / `EPERM` the object refuses the access.
///
/// # Safety
/// With `MAP_FIXED`, whatever was mapped in the range is gone: nothing the
/// program still uses may live there. Without it the call is safe.
pub unsafe fn mmap(
    addr_hint: usize,
    len: usize,
    prot: MapFlags,
    flags: MapFlags,
    fd: usize,
    offset: usize,
) -> Result<usize> {
    let map = Map { offset, size: len, flags: prot | flags, address: addr_hint };
    // SAFETY: the kernel reads one `Map` (the size passed) from `map`; what
    // the mapping replaces is the caller's promise.
    unsafe { syscall3(SYS_FMAP, fd, (&raw const map) as usize, size_of::<Map>()) }
}

/// Maps `len` bytes of fresh anonymous memory (zeroes) wherever the kernel
/// finds room. `flags` is [`MAP_PRIVATE`] or [`MAP_SHARED`], optionally
/// with [`MAP_POPULATE`]. Fixed placement needs [`mmap`]: with a fixed
/// flag this returns `EINVAL` without calling the kernel.
///
/// Errors: those of [`mmap`] (`EINVAL`, `ENOMEM`).
pub fn mmap_anonymous(len: usize, prot: MapFlags, flags: MapFlags) -> Result<usize> {
    if flags.intersects(MAP_FIXED | MAP_FIXED_NOREPLACE) {
        return Err(Error::new(EINVAL));
    }
    // SAFETY: not fixed: the new mapping replaces nothing.
    unsafe { mmap(0, len, prot, flags, ANONYMOUS_FD, 0) }
}

/// Unmaps every page of `[addr, addr + len)` (`len` rounded up to pages);
/// pages with nothing mapped are skipped, so a range with nothing mapped
/// succeeds.
///
/// Errors: `EINVAL` `addr` not page-aligned, zero `len`, or a range that
/// overflows or leaves user space.
///
/// # Safety
/// Nothing the program still uses may live in the range.
pub unsafe fn munmap(addr: usize, len: usize) -> Result<()> {
    // SAFETY: the caller gives up the range.
    unsafe { syscall2(SYS_FUNMAP, addr, len) }.map(drop)
}

/// Sets the protection of every page of `[addr, addr + len)` to `prot`
/// (only `PROT_*` bits); [`PROT_NONE`] makes every access fault.
///
/// Errors: `EINVAL` `addr` not page-aligned or `prot` with other bits;
/// `ENOMEM` part of the range is not mapped (then nothing changed);
/// `EACCES` the object refuses the access (e.g. write to a read-only file).
///
/// # Safety
/// Nothing the program still uses may be in the range with less access
/// than it needs.
pub unsafe fn mprotect(addr: usize, len: usize, prot: MapFlags) -> Result<()> {
    // SAFETY: the caller vouches for the new protection.
    unsafe { syscall3(SYS_MPROTECT, addr, len, prot.bits()) }.map(drop)
}

/// Resizes or moves the mapping at `[old_addr, old_addr + old_len)` to
/// `new_len` bytes; returns its (possibly new) address. `flags`:
/// [`MREMAP_MAYMOVE`] lets it move when it cannot grow in place;
/// [`MREMAP_FIXED`] (with MAYMOVE) moves it to exactly `new_addr`,
/// replacing what is there; [`MREMAP_DONTUNMAP`] (with MAYMOVE, same
/// length) moves the pages and leaves the old range mapped and empty.
/// `new_addr` is ignored without FIXED.
///
/// Errors: `EINVAL` unaligned addresses, zero `new_len`, unknown flags,
/// FIXED or DONTUNMAP without MAYMOVE, DONTUNMAP with a new length, or a
/// fixed target overlapping the old range; `EFAULT` the old range is not
/// (within) one mapping; `ENOMEM` no room to grow in place without
/// MAYMOVE, no room anywhere, or no memory.
///
/// # Safety
/// Nothing the program still uses may live in the old range (it moves or
/// shrinks) or, with FIXED, in the new one.
pub unsafe fn mremap(old_addr: usize, old_len: usize, new_addr: usize, new_len: usize, flags: usize) -> Result<usize> {
    // SAFETY: the caller gives up the ranges that change.
    unsafe { syscall5(SYS_MREMAP, old_addr, old_len, new_addr, new_len, flags) }
}

/// Advises the kernel about `[addr, addr + len)`: [`MADV_NORMAL`],
/// [`MADV_RANDOM`], [`MADV_SEQUENTIAL`], [`MADV_WILLNEED`] are hints;
/// [`MADV_DONTNEED`] drops the pages, so private anonymous memory reads
/// back as zeroes (shared memory keeps its data).
///
/// Errors: `EINVAL` `addr` not page-aligned or unknown `advice`; `ENOMEM`
/// part of the range is not mapped.
///
/// # Safety
/// With `MADV_DONTNEED`, private memory in the range loses its contents:
/// nothing the program still uses may live there. The other advice values
/// change no contents.
pub unsafe fn madvise(addr: usize, len: usize, advice: usize) -> Result<()> {
    // SAFETY: the caller vouches for the range.
    unsafe { syscall3(SYS_MADVISE, addr, len, advice) }.map(drop)
}

/// Writes shared file-backed pages of `[addr, addr + len)` back to their
/// object: [`MS_SYNC`] (wait) or [`MS_ASYNC`], optionally with
/// [`MS_INVALIDATE`]. On anonymous memory it only validates.
///
/// Errors: `EINVAL` `addr` not page-aligned, both SYNC and ASYNC, or
/// unknown bits; `ENOMEM` part of the range is not mapped; `EIO` the
/// scheme failed to write.
pub fn msync(addr: usize, len: usize, flags: usize) -> Result<()> {
    // SAFETY: msync changes no memory contents or mappings.
    unsafe { syscall3(SYS_MSYNC, addr, len, flags) }.map(drop)
}

/// What a mapping in `sys:maps` is backed by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `anon`: private anonymous memory (demand-zero, copy-on-write after
    /// fork).
    Anon,
    /// `shared`: shared anonymous memory or a `memory:` object.
    Shared,
    /// `phys`: borrowed physical memory (`memory:physical`).
    Phys,
    /// `external`: pages borrowed from another address space (a scheme).
    External,
    /// `fmap`: file pages lent by a filesystem scheme.
    Fmap,
    /// `stack`: the main thread's stack.
    Stack,
    /// `image`: the program's loaded segments.
    Image,
}

impl MapKind {
    /// The kind named `word` in `sys:maps`.
    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "anon" => Self::Anon,
            "shared" => Self::Shared,
            "phys" => Self::Phys,
            "external" => Self::External,
            "fmap" => Self::Fmap,
            "stack" => Self::Stack,
            "image" => Self::Image,
            _ => return None,
        })
    }

    /// The word `sys:maps` uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Anon => "anon",
            Self::Shared => "shared",
            Self::Phys => "phys",
            Self::External => "external",
            Self::Fmap => "fmap",
            Self::Stack => "stack",
            Self::Image => "image",
        }
    }
}

/// A mapping's access, as `sys:maps` shows it (`rw-p`, `r--s`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// `s` rather than `p`.
    pub shared: bool,
}

impl Perms {
    /// The four characters: `r`/`-`, `w`/`-`, `x`/`-`, `s`/`p`.
    pub fn parse(word: &str) -> Option<Self> {
        let &[r, w, x, s] = word.as_bytes() else { return None };
        let flag = |byte: u8, set: u8| match byte {
            b'-' => Some(false),
            _ if byte == set => Some(true),
            _ => None,
        };
        let shared = match s {
            b's' => true,
            b'p' => false,
            _ => return None,
        };
        Some(Self { read: flag(r, b'r')?, write: flag(w, b'w')?, exec: flag(x, b'x')?, shared })
    }

    /// The `PROT_*` bits.
    pub fn prot(self) -> MapFlags {
        let mut prot = PROT_NONE;
        prot.set(PROT_READ, self.read);
        prot.set(PROT_WRITE, self.write);
        prot.set(PROT_EXEC, self.exec);
        prot
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pick = |on: bool, c: char| if on { c } else { '-' };
        write!(
            f,
            "{}{}{}{}",
            pick(self.read, 'r'),
            pick(self.write, 'w'),
            pick(self.exec, 'x'),
            if self.shared { 's' } else { 'p' }
        )
    }
}

/// One line of `sys:maps`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    pub perms: Perms,
    pub kind: MapKind,
    /// Pages with a frame behind them now.
    pub resident_pages: usize,
}

impl MapEntry {
    /// The mapping's size in pages.
    pub fn pages(&self) -> usize {
        (self.end - self.start) / PAGE_SIZE
    }

    /// Whether `addr` lies in the mapping.
    pub fn contains(&self, addr: usize) -> bool {
        (self.start..self.end).contains(&addr)
    }

    /// Whether the mapping shares any byte with `[start, end)`.
    pub fn overlaps(&self, start: usize, end: usize) -> bool {
        self.start < end && start < self.end
    }
}

impl fmt::Display for MapEntry {
    /// The entry as `sys:maps` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}-{:016x} {} {} {}", self.start, self.end, self.perms, self.kind.name(), self.resident_pages)
    }
}

/// The caller's mappings and the totals, from `sys:maps`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maps {
    /// Lowest address first.
    pub entries: Vec<MapEntry>,
    /// The `total` line's mapped pages.
    pub mapped_pages: usize,
    /// The `total` line's resident pages.
    pub resident_pages: usize,
}

impl Maps {
    /// Parses the text of `sys:maps`. Checks the format only (fields,
    /// hex widths, a `total` line last), not that the numbers agree; see
    /// [`Maps::consistency_error`] for that.
    ///
    /// Errors: `EINVAL` a line that does not parse, or no `total` line.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::new(EINVAL);
        let mut maps = Self::default();
        let mut total_seen = false;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if total_seen {
                return Err(bad());
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["total", "mapped_pages", mapped, "resident_pages", resident] => {
                    maps.mapped_pages = mapped.parse().map_err(|_| bad())?;
                    maps.resident_pages = resident.parse().map_err(|_| bad())?;
                    total_seen = true;
                }
                [range, perms, kind, resident] => {
                    let (start, end) = range.split_once('-').ok_or_else(bad)?;
                    maps.entries.push(MapEntry {
                        start: parse_hex16(start).ok_or_else(bad)?,
                        end: parse_hex16(end).ok_or_else(bad)?,
                        perms: Perms::parse(perms).ok_or_else(bad)?,
                        kind: MapKind::parse(kind).ok_or_else(bad)?,
                        resident_pages: resident.parse().map_err(|_| bad())?,
                    });
                }
                _ => return Err(bad()),
            }
        }
        if total_seen { Ok(maps) } else { Err(bad()) }
    }

    /// What is wrong with the listing, if anything: an entry empty,
    /// unaligned or with more resident pages than pages; entries out of
    /// order or overlapping; totals that are not the sums.
    pub fn consistency_error(&self) -> Option<String> {
        let mut previous_end = 0;
        for entry in &self.entries {
            if entry.start >= entry.end || entry.start % PAGE_SIZE != 0 || entry.end % PAGE_SIZE != 0 {
                return Some(alloc::format!("empty or unaligned entry `{entry}`"));
            }
            if entry.resident_pages > entry.pages() {
                return Some(alloc::format!("more resident pages than pages: `{entry}`"));
            }
            if entry.start < previous_end {
                return Some(alloc::format!("entry `{entry}` overlaps or precedes the one before"));
            }
            previous_end = entry.end;
        }
        let mapped: usize = self.entries.iter().map(MapEntry::pages).sum();
        let resident: usize = self.entries.iter().map(|e| e.resident_pages).sum();
        if (mapped, resident) != (self.mapped_pages, self.resident_pages) {
            return Some(alloc::format!(
                "totals say {} mapped / {} resident, the entries add up to {mapped} / {resident}",
                self.mapped_pages,
                self.resident_pages
            ));
        }
        None
    }

    /// The entry holding `addr`.
    pub fn find(&self, addr: usize) -> Option<&MapEntry> {
        self.entries.iter().find(|e| e.contains(addr))
    }

    /// The entries sharing a byte with `[start, end)`, in address order.
    pub fn overlapping(&self, start: usize, end: usize) -> impl Iterator<Item = &MapEntry> {
        self.entries.iter().filter(move |e| e.overlaps(start, end))
    }

    /// The pages of `[start, end)` that some entry maps.
    pub fn mapped_pages_in(&self, start: usize, end: usize) -> usize {
        self.overlapping(start, end).map(|e| (e.end.min(end) - e.start.max(start)) / PAGE_SIZE).sum()
    }
}

/// Exactly 16 lowercase hex digits.
fn parse_hex16(word: &str) -> Option<usize> {
    let lower_hex = word.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if word.len() != 16 || !lower_hex {
        return None;
    }
    usize::from_str_radix(word, 16).ok()
}

/// Reads and parses `sys:maps` (the caller's mappings).
///
/// Errors: those of [`crate::io::read_file`]; `EINVAL` the text is not
/// UTF-8 or does not parse ([`Maps::parse`]).
pub fn read_maps() -> Result<Maps> {
    let text = crate::io::read_file("sys:maps")?;
    let text = core::str::from_utf8(&text).map_err(|_| Error::new(EINVAL))?;
    Maps::parse(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
0000000000200000-0000000000212000 r-xp image 18
0000000000400000-0000000000440000 rw-p anon 3
0000000000440000-0000000000441000 r--s shared 1
00007fffff7f0000-00007fffffff0000 rw-p stack 2
total mapped_pages 2131 resident_pages 24
";

    #[test]
    fn parses_the_listing() {
        let maps = Maps::parse(SAMPLE).unwrap();
        assert_eq!(maps.entries.len(), 4);
        let anon = maps.entries[1];
        assert_eq!((anon.start, anon.end, anon.pages(), anon.resident_pages), (0x40_0000, 0x44_0000, 64, 3));
        assert_eq!(anon.perms, Perms { read: true, write: true, exec: false, shared: false });
        assert_eq!(anon.kind, MapKind::Anon);
        assert_eq!(maps.entries[2].perms.prot(), PROT_READ);
        assert!(maps.entries[2].perms.shared);
        assert_eq!(maps.entries[3].kind, MapKind::Stack);
        assert_eq!((maps.mapped_pages, maps.resident_pages), (2131, 24));
        assert_eq!(maps.consistency_error(), None);
        assert_eq!(maps.find(0x44_0fff).map(|e| e.kind), Some(MapKind::Shared));
        assert_eq!(maps.find(0x44_1000), None);
        assert_eq!(maps.mapped_pages_in(0x43_f000, 0x44_2000), 2);
    }

    #[test]
    fn entries_print_as_they_parse() {
        for line in SAMPLE.lines().take(4) {
            let maps = Maps::parse(&std::format!("{line}\ntotal mapped_pages 0 resident_pages 0\n")).unwrap();
            assert_eq!(std::format!("{}", maps.entries[0]), line);
        }
    }

    #[test]
    fn rejects_bad_lines() {
        let total = "total mapped_pages 1 resident_pages 0\n";
        for line in [
            "0000000000400000-0000000000401000 rw-p anon\n",
            "400000-401000 rw-p anon 0\n",
            "0000000000400000-0000000000401000 rw-p heap 0\n",
            "0000000000400000-0000000000401000 rwxq anon 0\n",
            "0000000000400000-0000000000401000 wr-p anon 0\n",
            "0000000000400000-0000000000401000 rw-p anon -1\n",
            "0000000000400000-000000000040100G rw-p anon 0\n",
            "0000000000400000-0000000000401ABC rw-p anon 0\n",
        ] {
            assert!(Maps::parse(&std::format!("{line}{total}")).is_err(), "{line}");
        }
        assert!(Maps::parse("0000000000400000-0000000000401000 rw-p anon 0\n").is_err(), "no total");
        assert!(Maps::parse(&std::format!("{total}0000000000400000-0000000000401000 rw-p anon 0\n")).is_err());
    }

    #[test]
    fn finds_inconsistencies() {
        let parse = |text: &str| Maps::parse(text).unwrap().consistency_error();
        assert!(
            parse("0000000000400000-0000000000401000 rw-p anon 0\ntotal mapped_pages 2 resident_pages 0\n").is_some()
        );
        assert!(
            parse("0000000000400000-0000000000401000 rw-p anon 2\ntotal mapped_pages 1 resident_pages 2\n").is_some()
        );
        assert!(
            parse(
                "0000000000400000-0000000000402000 rw-p anon 0\n0000000000401000-0000000000403000 rw-p anon 0\n\
                 total mapped_pages 4 resident_pages 0\n"
            )
            .is_some()
        );
        assert!(
            parse("0000000000400800-0000000000401000 rw-p anon 0\ntotal mapped_pages 0 resident_pages 0\n").is_some()
        );
    }

    #[test]
    fn anonymous_refuses_fixed_flags() {
        assert_eq!(mmap_anonymous(PAGE_SIZE, PROT_RW, MAP_PRIVATE | MAP_FIXED).map_err(|e| e.errno), Err(EINVAL));
        assert_eq!(MAP_POPULATE.bits(), 0x20);
        assert_eq!(PROT_RW.bits(), 0x6_0000);
    }
}
