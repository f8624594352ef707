//! Virtual page numbers and half-open page ranges: the unit grants, gaps,
//! slots and shootdowns are kept in, so no byte address is ever compared
//! with a page count.

use core::fmt;

use rmm::{PAGE_SHIFT, PAGE_SIZE, VirtAddr};

use crate::MmError;

/// A virtual page: its address divided by [`PAGE_SIZE`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Page(u64);

impl Page {
    /// The page with number `number` (address `number * PAGE_SIZE`).
    pub const fn from_number(number: u64) -> Self {
        Self(number)
    }
    /// The page number.
    pub const fn number(self) -> u64 {
        self.0
    }
    /// The page holding `addr`.
    pub const fn containing(addr: VirtAddr) -> Self {
        Self(addr.get() >> PAGE_SHIFT)
    }
    /// The page starting at `addr`, or `None` if `addr` is not page aligned.
    pub const fn at(addr: VirtAddr) -> Option<Self> {
        if addr.is_aligned(PAGE_SIZE) { Some(Self::containing(addr)) } else { None }
    }
    /// The page's first byte.
    pub const fn start(self) -> VirtAddr {
        VirtAddr::new(self.0 << PAGE_SHIFT)
    }
    /// The page `pages` after this one.
    pub const fn add(self, pages: u64) -> Self {
        Self(self.0 + pages)
    }
    /// The page `pages` before this one.
    pub const fn sub(self, pages: u64) -> Self {
        Self(self.0 - pages)
    }
    /// Pages from `self` up to (not including) `end`.
    pub const fn pages_until(self, end: Page) -> u64 {
        end.0 - self.0
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Page({:#x})", self.start().get())
    }
}

/// The pages `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRange {
    /// First page.
    pub start: Page,
    /// One past the last page.
    pub end: Page,
}

impl PageRange {
    /// `[start, end)`; `end` below `start` gives an empty range at `start`.
    pub const fn new(start: Page, end: Page) -> Self {
        if end.0 < start.0 { Self { start, end: start } } else { Self { start, end } }
    }
    /// `pages` pages from `start`.
    pub const fn from_len(start: Page, pages: u64) -> Self {
        Self { start, end: start.add(pages) }
    }
    /// Pages in the range.
    pub const fn pages(&self) -> u64 {
        self.end.0 - self.start.0
    }
    /// Whether the range holds no page.
    pub const fn is_empty(&self) -> bool {
        self.end.0 == self.start.0
    }
    /// Whether `page` is in the range.
    pub const fn contains(&self, page: Page) -> bool {
        self.start.0 <= page.0 && page.0 < self.end.0
    }
    /// Whether `other` lies wholly inside this range.
    pub const fn covers(&self, other: &PageRange) -> bool {
        self.start.0 <= other.start.0 && other.end.0 <= self.end.0
    }
    /// Whether the two ranges share a page.
    pub const fn overlaps(&self, other: &PageRange) -> bool {
        self.start.0 < other.end.0 && other.start.0 < self.end.0
    }
    /// The pages in both ranges (possibly empty).
    pub fn intersect(&self, other: &PageRange) -> PageRange {
        PageRange::new(self.start.max(other.start), self.end.min(other.end))
    }
    /// Every page, in order.
    pub fn iter(&self) -> impl Iterator<Item = Page> + use<> {
        (self.start.0..self.end.0).map(Page)
    }
    /// The byte length.
    pub const fn len_bytes(&self) -> u64 {
        self.pages() << PAGE_SHIFT
    }
}

impl fmt::Debug for PageRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#x}, {:#x})", self.start.start().get(), self.end.start().get())
    }
}

/// `len_bytes` rounded up to whole pages. EINVAL when rounding overflows.
pub(crate) fn pages_for(len_bytes: u64) -> Result<u64, MmError> {
    len_bytes.checked_add(PAGE_SIZE - 1).map(|l| l >> PAGE_SHIFT).ok_or(MmError::Inval)
}

/// The pages of `[addr, addr + len_bytes)` (length rounded up). EINVAL when
/// `addr` is not page aligned or the end overflows the address width.
pub(crate) fn range_for(addr: VirtAddr, len_bytes: u64) -> Result<PageRange, MmError> {
    let start = Page::at(addr).ok_or(MmError::Inval)?;
    let pages = pages_for(len_bytes)?;
    // The end page's address must itself be representable.
    let end = start.0.checked_add(pages).filter(|end| *end <= u64::MAX >> PAGE_SHIFT).ok_or(MmError::Inval)?;
    Ok(PageRange::new(start, Page(end)))
}
