//! The kernel's `sys:` files the tools read, parsed (formats in the
//! kernel's `scheme/sys.rs` module doc):
//!
//! | file | tool | parsed by |
//! |---|---|---|
//! | `sys:memory` | `free` | [`Memory::parse`] |
//! | `sys:processes` | `ps`, `pmap` | [`processes`] |
//! | `sys:maps`, `sys:maps/PID` | `pmap` | [`maps`] |
//! | `sys:uname` | `uname` | [`Uname::parse`] |
//!
//! Parsers are lenient where the kernel may grow: unknown lines of
//! `sys:memory` and unknown grant kinds are kept or skipped, not errors.

use alloc::string::String;
use alloc::vec::Vec;

use tessera_runtime::abi::error::EINVAL;
use tessera_runtime::{Error, Result, io};

/// Reads the whole text file `path`.
/// Errors: those of `io::read_file`; `EINVAL` text that is not UTF-8.
pub fn read_text(path: &str) -> Result<String> {
    String::from_utf8(io::read_file(path)?).map_err(|_| Error::new(EINVAL))
}

/// `sys:memory`: the kernel's physical frames and heap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub free_frames: u64,
    pub total_frames: u64,
    pub page_size: u64,
    /// The kernel heap's mapped size.
    pub heap_bytes: u64,
    pub heap_used_bytes: u64,
}

impl Memory {
    /// Parses `KEY N` lines; other lines are skipped.
    /// Errors: `EINVAL` when `free_frames`, `total_frames` or `page_size` is
    /// missing or not a number.
    pub fn parse(text: &str) -> Result<Self> {
        let value = |key: &str| -> Option<u64> {
            text.lines().find_map(|line| {
                let (k, v) = line.split_once(' ')?;
                (k == key).then(|| v.trim().parse().ok()).flatten()
            })
        };
        let bad = || Error::new(EINVAL);
        Ok(Self {
            free_frames: value("free_frames").ok_or_else(bad)?,
            total_frames: value("total_frames").ok_or_else(bad)?,
            page_size: value("page_size").ok_or_else(bad)?,
            heap_bytes: value("heap_bytes").unwrap_or(0),
            heap_used_bytes: value("heap_used_bytes").unwrap_or(0),
        })
    }

    /// Total physical memory the kernel manages, in KiB.
    pub fn total_kib(&self) -> u64 {
        self.total_frames * self.page_size / 1024
    }

    /// Free physical memory, in KiB.
    pub fn free_kib(&self) -> u64 {
        self.free_frames * self.page_size / 1024
    }

    /// Memory in use (total − free), in KiB.
    pub fn used_kib(&self) -> u64 {
        self.total_kib().saturating_sub(self.free_kib())
    }
}

/// One line of `sys:processes`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    pub pid: usize,
    pub ppid: usize,
    /// `alive` or `zombie:STATUS`.
    pub state: String,
    /// Resident user pages.
    pub pages: usize,
    pub threads: usize,
    pub name: String,
}

/// Parses `sys:processes`: a header, then `pid ppid state pages threads
/// name` per process (the name may hold spaces). Lines that do not parse
/// (the header) are skipped.
pub fn processes(text: &str) -> Vec<Process> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.splitn(6, ' ');
            Some(Process {
                pid: words.next()?.parse().ok()?,
                ppid: words.next()?.parse().ok()?,
                state: String::from(words.next()?),
                pages: words.next()?.parse().ok()?,
                threads: words.next()?.parse().ok()?,
                name: String::from(words.next().unwrap_or("").trim()),
            })
        })
        .collect()
}

/// One grant of `sys:maps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub start: usize,
    /// Exclusive.
    pub end: usize,
    /// `rw-p`, `r-xs`, …
    pub perms: String,
    /// The provider: `anon`, `shared`, `phys`, `external`, `fmap`, `stack`…
    pub kind: String,
    pub resident_pages: usize,
}

impl Grant {
    pub fn bytes(&self) -> usize {
        self.end.saturating_sub(self.start)
    }
}

/// `sys:maps` parsed: the grants and the `total` line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maps {
    pub grants: Vec<Grant>,
    pub mapped_pages: usize,
    pub resident_pages: usize,
}

/// Parses `sys:maps` text: `START-END PERMS KIND RESIDENT` per grant (hex
/// addresses), then `total mapped_pages M resident_pages R`.
/// Errors: `EINVAL` a line that does not parse, or no `total` line.
pub fn maps(text: &str) -> Result<Maps> {
    let bad = || Error::new(EINVAL);
    let mut out = Maps::default();
    let mut total = false;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["total", "mapped_pages", mapped, "resident_pages", resident] => {
                out.mapped_pages = mapped.parse().map_err(|_| bad())?;
                out.resident_pages = resident.parse().map_err(|_| bad())?;
                total = true;
            }
            [range, perms, kind, resident] => {
                let (start, end) = range.split_once('-').ok_or_else(bad)?;
                out.grants.push(Grant {
                    start: usize::from_str_radix(start, 16).map_err(|_| bad())?,
                    end: usize::from_str_radix(end, 16).map_err(|_| bad())?,
                    perms: String::from(*perms),
                    kind: String::from(*kind),
                    resident_pages: resident.parse().map_err(|_| bad())?,
                });
            }
            _ => return Err(bad()),
        }
    }
    if total { Ok(out) } else { Err(bad()) }
}

/// `sys:uname`: `Tessera VERSION ARCH`, where VERSION is the boot
/// banner's and may hold spaces (`0.1.0 (8f772490a64d)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uname<'a> {
    pub system: &'a str,
    pub release: &'a str,
    pub machine: &'a str,
}

impl<'a> Uname<'a> {
    /// Parses the first line: the first word, the words between, the last
    /// word. Errors: `EINVAL` fewer than three words.
    pub fn parse(text: &'a str) -> Result<Self> {
        let line = text.lines().next().unwrap_or("").trim();
        let (system, rest) = line.split_once(' ').ok_or(Error::new(EINVAL))?;
        let (release, machine) = rest.trim().rsplit_once(' ').ok_or(Error::new(EINVAL))?;
        let release = release.trim();
        if system.is_empty() || release.is_empty() || machine.is_empty() {
            return Err(Error::new(EINVAL));
        }
        Ok(Self { system, release, machine })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory() {
        let text = "free_frames 100\ntotal_frames 300\npage_size 4096\nheap_bytes 8192\nheap_used_bytes 10\n";
        let m = Memory::parse(text).unwrap();
        assert_eq!((m.total_kib(), m.free_kib(), m.used_kib()), (1200, 400, 800));
        assert_eq!(m.heap_bytes, 8192);
        assert!(Memory::parse("free_frames 1\n").is_err());
    }

    #[test]
    fn process_list() {
        let text = "pid ppid state pages threads name\n1 0 alive 30 1 init\n7 1 zombie:0 0 1 my prog\n";
        let list = processes(text);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].pid, 1);
        assert_eq!(list[1].state, "zombie:0");
        assert_eq!(list[1].name, "my prog");
    }

    #[test]
    fn map_list() {
        let text = "0000000000400000-0000000000412000 r-xp anon 18\n\
                    00007fffffbf0000-00007ffffffe0000 rw-p stack 3\n\
                    total mapped_pages 1026 resident_pages 21\n";
        let m = maps(text).unwrap();
        assert_eq!(m.grants.len(), 2);
        assert_eq!(m.grants[0].bytes(), 0x12000);
        assert_eq!(m.grants[1].kind, "stack");
        assert_eq!((m.mapped_pages, m.resident_pages), (1026, 21));
        assert!(maps("0-1 r--p anon 0\n").is_err());
    }

    #[test]
    fn uname() {
        let u = Uname::parse("Tessera 0.1.0 x86_64\n").unwrap();
        assert_eq!((u.system, u.release, u.machine), ("Tessera", "0.1.0", "x86_64"));
        let u = Uname::parse("Tessera 0.1.0 (8f772490a64d) aarch64").unwrap();
        assert_eq!((u.release, u.machine), ("0.1.0 (8f772490a64d)", "aarch64"));
        assert!(Uname::parse("Tessera\n").is_err());
        assert!(Uname::parse("Tessera 0.1.0\n").is_err());
    }
}
