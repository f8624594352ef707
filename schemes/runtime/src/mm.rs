//! Memory: the calls and flags of `tessera_sys::mm` (`mmap`, `munmap`,
//! `mprotect`, `mremap`, `madvise`, `msync`), re-exported, and a reader
//! for `sys:maps`, the caller's own list of mappings.
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
use tessera_abi::{Error, Result};

pub use tessera_sys::mm::*;

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
}
