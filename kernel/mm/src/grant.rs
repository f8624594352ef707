//! A grant: one contiguous run of pages with one protection and one
//! [`Provider`]. Grants are metadata only — which pages have frames lives
//! in the address space's slot map — so splitting, merging and moving a
//! grant never touches per-page state.

use core::fmt;

use bitflags::bitflags;
use rmm::{MemoryKind, PageFlags, VirtAddr};

use crate::page::{Page, PageRange};
use crate::provider::{Provider, ProviderKind};

bitflags! {
    /// Page protection (Linux's PROT_* values).
    ///
    /// A present mapping is always readable (rmm's [`PageFlags`] has no
    /// read bit, as on x86_64), so WRITE or EXEC alone also allow reads;
    /// PROT_NONE is the one protection that removes access.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct Prot: u32 {
        /// Reads allowed.
        const READ = 1;
        /// Writes allowed.
        const WRITE = 2;
        /// Instruction fetches allowed.
        const EXEC = 4;
    }
}

impl Prot {
    /// No access (PROT_NONE).
    pub const NONE: Prot = Prot::empty();

    /// Whether any access is allowed.
    pub const fn is_accessible(self) -> bool {
        !self.is_empty()
    }
}

/// One mapping: `pages` pages from `base`, all with `prot`, backed by
/// `provider`.
#[derive(Clone)]
pub struct Grant {
    pub(crate) base: Page,
    pub(crate) pages: u64,
    pub(crate) prot: Prot,
    /// A stack: a fault in the free pages just below extends it downward.
    pub(crate) grows_down: bool,
    /// MADV_DONTFORK: a forked child does not get this grant.
    pub(crate) dont_fork: bool,
    /// MADV_WIPEONFORK (private anonymous only): a forked child gets the
    /// grant empty (it reads zeroes), and the flag with it.
    pub(crate) wipe_on_fork: bool,
    /// Set aside for lending (Tessera's `MADV_LEND_ASIDE`, owned memory
    /// only): the kernel takes none of its pages for a borrower of this
    /// space's memory without asking the lender again (MmapPrep), while
    /// its PTEs stay as they are. A file server seals written-back pages
    /// so (docs/fmap.md "Lending again", docs/redoxfs.md "Sealing").
    pub(crate) lend_aside: bool,
    pub(crate) provider: Provider,
}

impl Grant {
    /// The first page.
    pub fn base(&self) -> Page {
        self.base
    }
    /// Number of pages.
    pub fn pages(&self) -> u64 {
        self.pages
    }
    /// One past the last page.
    pub fn end(&self) -> Page {
        self.base.add(self.pages)
    }
    /// The pages covered.
    pub fn range(&self) -> PageRange {
        PageRange::from_len(self.base, self.pages)
    }
    /// The protection.
    pub fn prot(&self) -> Prot {
        self.prot
    }
    /// Whether the grant grows down on faults below it.
    pub fn grows_down(&self) -> bool {
        self.grows_down
    }
    /// The provider.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Cuts the grant at `at` (strictly inside): `self` keeps the pages
    /// below, the returned grant has the rest.
    pub(crate) fn split_off(&mut self, at: Page) -> Grant {
        debug_assert!(self.base < at && at < self.end());
        let head = self.base.pages_until(at);
        let tail = Grant {
            base: at,
            pages: self.pages - head,
            prot: self.prot,
            grows_down: self.grows_down,
            dont_fork: self.dont_fork,
            wipe_on_fork: self.wipe_on_fork,
            lend_aside: self.lend_aside,
            provider: self.provider.advanced(head),
        };
        self.pages = head;
        tail
    }

    /// Whether `next` starts where `self` ends and is the same kind of
    /// mapping, so that the two can be one grant.
    pub(crate) fn can_absorb(&self, next: &Grant) -> bool {
        self.end() == next.base
            && self.prot == next.prot
            && self.grows_down == next.grows_down
            && self.dont_fork == next.dont_fork
            && self.wipe_on_fork == next.wipe_on_fork
            && self.lend_aside == next.lend_aside
            && self.provider.continues_into(&next.provider, self.pages)
    }

    /// Appends `next` (see [`Self::can_absorb`]).
    pub(crate) fn absorb(&mut self, next: &Grant) {
        debug_assert!(self.can_absorb(next));
        self.pages += next.pages;
    }

    /// The PTE flags for a page of this grant; `writable` is further limited
    /// by the protection (copy-on-write and zero-frame pages pass `false`).
    pub(crate) fn pte_flags(&self, writable: bool) -> PageFlags {
        let kind = match &self.provider {
            Provider::PhysBorrowed { kind, .. } => kind.memory_kind(),
            _ => MemoryKind::Normal,
        };
        PageFlags::new()
            .user(true)
            .write(writable && self.prot.contains(Prot::WRITE))
            .execute(self.prot.contains(Prot::EXEC))
            .kind(kind)
    }

    /// A description for listings.
    pub(crate) fn info(&self, resident_pages: u64) -> GrantInfo {
        GrantInfo {
            start: self.base.start(),
            end: self.end().start(),
            prot: self.prot,
            shared: self.provider.is_shared(),
            kind: self.provider.kind(),
            grows_down: self.grows_down,
            resident_pages,
        }
    }
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Grant({:?} {:?}{}{}{}{} {:?})",
            self.range(),
            self.prot,
            if self.grows_down { " grows-down" } else { "" },
            if self.dont_fork { " dont-fork" } else { "" },
            if self.wipe_on_fork { " wipe-on-fork" } else { "" },
            if self.lend_aside { " lend-aside" } else { "" },
            self.provider
        )
    }
}

/// One line of a /proc/pid/maps-like listing ([`crate::AddrSpace::grants`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GrantInfo {
    /// First byte.
    pub start: VirtAddr,
    /// One past the last byte.
    pub end: VirtAddr,
    /// Protection.
    pub prot: Prot,
    /// Shared (`s`) or private (`p`).
    pub shared: bool,
    /// Provider kind.
    pub kind: ProviderKind,
    /// Whether it is a grows-down stack.
    pub grows_down: bool,
    /// Frames this space holds references to in the range (RSS share).
    pub resident_pages: u64,
}

/// `start-end rwxp kind resident`, e.g.
/// `0000000000010000-0000000000014000 rw-p anon 2`.
impl fmt::Display for GrantInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bit = |flag, c| if self.prot.contains(flag) { c } else { '-' };
        write!(
            f,
            "{:016x}-{:016x} {}{}{}{} {}",
            self.start.get(),
            self.end.get(),
            bit(Prot::READ, 'r'),
            bit(Prot::WRITE, 'w'),
            bit(Prot::EXEC, 'x'),
            if self.shared { 's' } else { 'p' },
            self.kind.name(),
        )?;
        if let ProviderKind::AllocatedShared(id) | ProviderKind::FmapBorrowed(id) = self.kind {
            write!(f, ":{id}")?;
        }
        if self.grows_down {
            f.write_str(" [stack]")?;
        }
        write!(f, " {}", self.resident_pages)
    }
}
