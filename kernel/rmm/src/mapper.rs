//! Walking and editing a four-level page table.
//!
//! Tables are reached at `phys + phys_offset`: the loader runs identity-mapped
//! (offset 0), the kernel through its physical map, the host tests through a
//! heap buffer. Intermediate tables are allocated on demand and zeroed.

use core::marker::PhantomData;

use crate::arch::{Arch, ENTRIES, LEVELS};
use crate::{FrameAllocator, PAGE_SIZE, PageFlags, PhysAddr, VirtAddr};

/// The size of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    /// A 4 KiB page (leaf table).
    Size4K,
    /// A 2 MiB block (level 1).
    Size2M,
    /// A 1 GiB block (level 2). x86_64 needs CPUID pdpe1gb for it.
    Size1G,
}

impl PageSize {
    /// Bytes covered.
    pub const fn bytes(self) -> u64 {
        PAGE_SIZE << (9 * self.level())
    }
    /// The table level whose entries map this size.
    pub const fn level(self) -> usize {
        match self {
            Self::Size4K => 0,
            Self::Size2M => 1,
            Self::Size1G => 2,
        }
    }
    const fn from_level(level: usize) -> Self {
        match level {
            0 => Self::Size4K,
            1 => Self::Size2M,
            _ => Self::Size1G,
        }
    }
}

/// Why a mapping could not be made. Nothing was changed except, possibly,
/// new empty intermediate tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// `virt` or `phys` is not aligned to the page size.
    Misaligned,
    /// `virt` is not a canonical 48-bit address.
    NonCanonical,
    /// Something is already mapped at `virt`.
    AlreadyMapped,
    /// A larger block already covers `virt`.
    BlockInTheWay,
    /// No frame for an intermediate table.
    OutOfFrames,
}

/// Why an unmap failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnmapError {
    /// Nothing is mapped at `virt`.
    NotMapped,
    /// `virt` is inside a larger mapping but not at its start.
    NotAtStart,
}

/// A TLB entry that must be invalidated before the change is relied on.
/// Call [`Flush::ignore`] only for a table that is not active on any CPU.
#[must_use = "the TLB may still hold the old translation"]
#[derive(Debug)]
pub struct Flush(VirtAddr);

impl Flush {
    /// The address to invalidate.
    pub fn virt(&self) -> VirtAddr {
        self.0
    }
    /// Drops the flush: the table is not live anywhere.
    pub fn ignore(self) {}
}

/// What [`PageMapper::edit_leaves`] does with one leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafEdit {
    /// Leave it.
    Keep,
    /// Rewrite it with these flags, same output address.
    Protect(PageFlags),
    /// Remove it.
    Unmap,
}

/// What a leaf visitor of `PageMapper::walk_leaves` wants next.
enum Visit<R> {
    /// Go on.
    Next,
    /// Rewrite the leaf's entry with this, then go on.
    Write(u64),
    /// Stop the walk with this result.
    Stop(R),
}

/// A page table rooted at a physical frame.
pub struct PageMapper<A: Arch> {
    root: PhysAddr,
    phys_offset: u64,
    _arch: PhantomData<A>,
}

impl<A: Arch> PageMapper<A> {
    /// Wraps an existing root table.
    ///
    /// # Safety
    /// `root` must be a page table of format `A`, and every frame it (and the
    /// frame allocator passed later) refers to must be readable and writable
    /// at `phys + phys_offset`, and not used for anything else.
    pub unsafe fn new(root: PhysAddr, phys_offset: u64) -> Self {
        Self { root, phys_offset, _arch: PhantomData }
    }

    /// Allocates and zeroes a new, empty root table.
    ///
    /// # Safety
    /// Frames from `alloc` must be writable at `phys + phys_offset`.
    pub unsafe fn create(alloc: &mut impl FrameAllocator, phys_offset: u64) -> Option<Self> {
        let root = alloc.allocate_frame()?;
        // SAFETY: the caller vouches for `phys_offset`; the frame is fresh.
        let mapper = unsafe { Self::new(root, phys_offset) };
        mapper.zero_table(root);
        Some(mapper)
    }

    /// The root table's frame (what CR3 / TTBRn_EL1 gets).
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    fn table(&self, table: PhysAddr) -> *mut u64 {
        table.get().wrapping_add(self.phys_offset) as *mut u64
    }

    fn zero_table(&self, table: PhysAddr) {
        // SAFETY: `new`'s contract: table frames are ours and reachable.
        unsafe { core::ptr::write_bytes(self.table(table), 0, ENTRIES) };
    }

    fn read(&self, table: PhysAddr, index: usize) -> u64 {
        debug_assert!(index < ENTRIES);
        // SAFETY: `new`'s contract; `index` is below 512.
        unsafe { self.table(table).add(index).read_volatile() }
    }

    fn write(&mut self, table: PhysAddr, index: usize, entry: u64) {
        debug_assert!(index < ENTRIES);
        // SAFETY: `new`'s contract; `index` is below 512.
        unsafe { self.table(table).add(index).write_volatile(entry) }
    }

    /// Maps one page or block of `size` at `virt` to `phys`.
    pub fn map(
        &mut self,
        virt: VirtAddr,
        phys: PhysAddr,
        size: PageSize,
        flags: PageFlags,
        alloc: &mut impl FrameAllocator,
    ) -> Result<Flush, MapError> {
        if !virt.is_aligned(size.bytes()) || !phys.is_aligned(size.bytes()) {
            return Err(MapError::Misaligned);
        }
        if !is_canonical(virt) {
            return Err(MapError::NonCanonical);
        }
        let table = self.table_for(virt, size.level(), flags.is_user(), alloc)?;
        let index = virt.table_index(size.level());
        if A::is_present(self.read(table, index)) {
            return Err(MapError::AlreadyMapped);
        }
        self.write(table, index, A::leaf_entry(phys, flags, size.level()));
        Ok(Flush(virt))
    }

    /// The table at `leaf_level` that holds `virt`'s entry, made on the way
    /// where missing (a user mapping also opens the tables above it to
    /// user mode).
    fn table_for(
        &mut self,
        virt: VirtAddr,
        leaf_level: usize,
        user: bool,
        alloc: &mut impl FrameAllocator,
    ) -> Result<PhysAddr, MapError> {
        let mut table = self.root;
        for level in (leaf_level + 1..LEVELS).rev() {
            let index = virt.table_index(level);
            let entry = self.read(table, index);
            table = if !A::is_present(entry) {
                let new = alloc.allocate_frame().ok_or(MapError::OutOfFrames)?;
                self.zero_table(new);
                self.write(table, index, A::table_entry(new, user));
                new
            } else if A::is_table(entry, level) {
                if user {
                    self.write(table, index, A::table_allow_user(entry));
                }
                A::entry_address(entry)
            } else {
                return Err(MapError::BlockInTheWay);
            };
        }
        Ok(table)
    }

    /// Maps 4 KiB pages, each as [`Self::map`] maps one, walking from the
    /// root only when a page is not in the leaf table of the one before
    /// (fork maps a space's pages into the child's table this way: one
    /// walk per leaf table, not per page). For tables that are not live
    /// yet: no flushes. Stops at the first error: the pages before it
    /// stay mapped.
    pub fn map_4k_pages(
        &mut self,
        pages: impl IntoIterator<Item = (VirtAddr, PhysAddr, PageFlags)>,
        alloc: &mut impl FrameAllocator,
    ) -> Result<(), MapError> {
        // The leaf table last walked to: the 2 MiB region it covers (as
        // `virt >> 21`) and the table.
        let mut leaf: Option<(u64, PhysAddr)> = None;
        for (virt, phys, flags) in pages {
            if !virt.is_aligned(PAGE_SIZE) || !phys.is_aligned(PAGE_SIZE) {
                return Err(MapError::Misaligned);
            }
            if !is_canonical(virt) {
                return Err(MapError::NonCanonical);
            }
            let region = virt.get() >> 21;
            let table = match leaf {
                Some((at, table)) if at == region => table,
                _ => {
                    let table = self.table_for(virt, 0, flags.is_user(), alloc)?;
                    leaf = Some((region, table));
                    table
                }
            };
            let index = virt.table_index(0);
            if A::is_present(self.read(table, index)) {
                return Err(MapError::AlreadyMapped);
            }
            self.write(table, index, A::leaf_entry(phys, flags, 0));
        }
        Ok(())
    }

    /// Maps `[virt, virt + len_bytes)` to `[phys, ...)` with the largest
    /// blocks alignment allows (up to `max`). For tables that are not live
    /// yet: the caller flushes nothing. Stops at the first error.
    pub fn map_range(
        &mut self,
        virt: VirtAddr,
        phys: PhysAddr,
        len_bytes: u64,
        flags: PageFlags,
        max: PageSize,
        alloc: &mut impl FrameAllocator,
    ) -> Result<(), MapError> {
        let mut done = 0;
        while done < len_bytes {
            let (v, p) = (virt.add(done), phys.add(done));
            let size = [PageSize::Size1G, PageSize::Size2M, PageSize::Size4K]
                .into_iter()
                .filter(|s| s.level() <= max.level())
                .find(|s| v.is_aligned(s.bytes()) && p.is_aligned(s.bytes()) && len_bytes - done >= s.bytes())
                .ok_or(MapError::Misaligned)?;
            self.map(v, p, size, flags, alloc)?.ignore();
            done += size.bytes();
        }
        Ok(())
    }

    /// Looks `virt` up: the physical address it maps to, the mapping's flags
    /// and size.
    pub fn translate(&self, virt: VirtAddr) -> Option<(PhysAddr, PageFlags, PageSize)> {
        let (entry, level) = self.leaf(virt)?;
        let size = PageSize::from_level(level);
        let offset = virt.get() & (size.bytes() - 1);
        Some((A::entry_address(entry).add(offset), A::leaf_flags(entry), size))
    }

    /// Removes the mapping that starts at `virt`. Intermediate tables stay.
    pub fn unmap(&mut self, virt: VirtAddr) -> Result<(PhysAddr, PageSize, Flush), UnmapError> {
        let (table, index, entry, level) = self.walk(virt).ok_or(UnmapError::NotMapped)?;
        let size = PageSize::from_level(level);
        if !virt.is_aligned(size.bytes()) {
            return Err(UnmapError::NotAtStart);
        }
        self.write(table, index, 0);
        Ok((A::entry_address(entry), size, Flush(virt)))
    }

    /// Rewrites the leaf that starts at `virt` with `flags`, keeping its
    /// output address; returns the old flags. The caller flushes the TLB
    /// (a downgrade must be flushed before it is relied on).
    pub fn protect(&mut self, virt: VirtAddr, flags: PageFlags) -> Result<(PageFlags, Flush), UnmapError> {
        let (table, index, entry, level) = self.walk(virt).ok_or(UnmapError::NotMapped)?;
        let size = PageSize::from_level(level);
        if !virt.is_aligned(size.bytes()) {
            return Err(UnmapError::NotAtStart);
        }
        self.write(table, index, A::leaf_entry(A::entry_address(entry), flags, level));
        Ok((A::leaf_flags(entry), Flush(virt)))
    }

    /// Removes every mapping under root entries `[first, end)` (the user half
    /// is `0..256`), handing each leaf's frame and size to `leaf` and each
    /// intermediate table's frame to `table`. The root itself stays.
    pub fn clear_root_entries(
        &mut self,
        entries: core::ops::Range<usize>,
        leaf: &mut impl FnMut(PhysAddr, PageSize),
        table: &mut impl FnMut(PhysAddr),
    ) {
        for index in entries {
            let entry = self.read(self.root, index);
            if A::is_present(entry) {
                self.write(self.root, index, 0);
                self.free_subtree(A::entry_address(entry), LEVELS - 2, leaf, table);
            }
        }
    }

    fn free_subtree(
        &mut self,
        table_frame: PhysAddr,
        level: usize,
        leaf: &mut impl FnMut(PhysAddr, PageSize),
        table: &mut impl FnMut(PhysAddr),
    ) {
        for index in 0..ENTRIES {
            let entry = self.read(table_frame, index);
            if !A::is_present(entry) {
                continue;
            }
            if level > 0 && A::is_table(entry, level) {
                self.free_subtree(A::entry_address(entry), level - 1, leaf, table);
            } else {
                leaf(A::entry_address(entry), PageSize::from_level(level));
            }
        }
        table(table_frame);
    }

    /// Frees the intermediate tables covering `[start, end)` that map
    /// nothing, bottom-up, handing each table's frame to `table` (never the
    /// root). Returns how many were freed. A CPU may have cached an entry
    /// that pointed to a freed table: the caller flushes the range's TLB
    /// entries (which drops cached walks too) before reusing those frames.
    pub fn prune(&mut self, start: VirtAddr, end: VirtAddr, table: &mut impl FnMut(PhysAddr)) -> usize {
        let mut freed = 0;
        if start < end {
            self.prune_table(self.root, LEVELS - 1, 0, start.get(), end.get() - 1, table, &mut freed);
        }
        freed
    }

    /// Prunes the children of `table_frame` (at `level`, covering addresses
    /// from `base`) that overlap `[first, last]`; returns whether the table
    /// is empty afterwards.
    #[allow(clippy::too_many_arguments)]
    fn prune_table(
        &mut self,
        table_frame: PhysAddr,
        level: usize,
        base: u64,
        first: u64,
        last: u64,
        table: &mut impl FnMut(PhysAddr),
        freed: &mut usize,
    ) -> bool {
        let span = PAGE_SIZE << (9 * level);
        for index in 0..ENTRIES {
            let lo = base + index as u64 * span;
            let hi = lo + (span - 1);
            if hi < first || lo > last {
                continue;
            }
            let entry = self.read(table_frame, index);
            if level > 0 && A::is_present(entry) && A::is_table(entry, level) {
                let child = A::entry_address(entry);
                if self.prune_table(child, level - 1, lo, first, last, table, freed) {
                    self.write(table_frame, index, 0);
                    table(child);
                    *freed += 1;
                }
            }
        }
        (0..ENTRIES).all(|index| !A::is_present(self.read(table_frame, index)))
    }

    /// Calls `f(virt, phys, flags, size)` for every mapping under root entries
    /// `[first, end)`, in address order.
    pub fn for_each_leaf(
        &self,
        entries: core::ops::Range<usize>,
        f: &mut impl FnMut(VirtAddr, PhysAddr, PageFlags, PageSize),
    ) {
        for index in entries {
            let entry = self.read(self.root, index);
            if A::is_present(entry) {
                let base = sign_extend((index as u64) << 39);
                self.visit(A::entry_address(entry), LEVELS - 2, base, f);
            }
        }
    }

    fn visit(
        &self,
        table: PhysAddr,
        level: usize,
        base: u64,
        f: &mut impl FnMut(VirtAddr, PhysAddr, PageFlags, PageSize),
    ) {
        let span = PAGE_SIZE << (9 * level);
        for index in 0..ENTRIES {
            let entry = self.read(table, index);
            if !A::is_present(entry) {
                continue;
            }
            let virt = base + index as u64 * span;
            if level > 0 && A::is_table(entry, level) {
                self.visit(A::entry_address(entry), level - 1, virt, f);
            } else {
                f(VirtAddr::new(virt), A::entry_address(entry), A::leaf_flags(entry), PageSize::from_level(level));
            }
        }
    }

    /// The first present leaf that starts at or after `from` and before
    /// `end` (both in the lower, user half): its address, output address,
    /// flags and size. Empty subtrees are skipped whole, so walking a
    /// sparse range costs per present entry and table, not per page.
    pub fn next_leaf(&self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, PhysAddr, PageFlags, PageSize)> {
        if from >= end || end.get() > 1 << 47 {
            return None;
        }
        self.walk_leaves(self.root, LEVELS - 1, 0, from.get(), end.get() - 1, &mut |virt, entry, level| {
            Visit::Stop((virt, A::entry_address(entry), A::leaf_flags(entry), PageSize::from_level(level)))
        })
    }

    /// Visits every present leaf that starts in `[from, end)` (both in the
    /// lower, user half) in address order, and applies what `f` says to do
    /// with it ([`LeafEdit`]). Each table on the way is walked once — a
    /// leaf table's 512 entries are read and written in one pass — where
    /// [`Self::next_leaf`] then [`Self::protect`] per page walk from the root
    /// twice per page. Empty subtrees are skipped whole. Intermediate
    /// tables stay (as after [`Self::unmap`]). The caller flushes the TLB for
    /// what it changed.
    pub fn edit_leaves(
        &mut self,
        from: VirtAddr,
        end: VirtAddr,
        f: &mut impl FnMut(VirtAddr, PhysAddr, PageFlags) -> LeafEdit,
    ) {
        if from >= end || end.get() > 1 << 47 {
            return;
        }
        if end.get() - from.get() == PAGE_SIZE && from.get().is_multiple_of(PAGE_SIZE) {
            // One page (munmap or mprotect of a page): one descent from the
            // root instead of a scan at each level. A larger leaf counts
            // only if it starts here, as in the scan.
            let Some((table, index, entry, level)) = self.walk(from) else { return };
            if !from.get().is_multiple_of(PAGE_SIZE << (9 * level)) {
                return;
            }
            let phys = A::entry_address(entry);
            let new = match f(from, phys, A::leaf_flags(entry)) {
                LeafEdit::Keep => return,
                LeafEdit::Protect(flags) => A::leaf_entry(phys, flags, level),
                LeafEdit::Unmap => 0,
            };
            // SAFETY: `new`'s contract (table frames are ours and
            // reachable); `walk` found the entry at `index` (below 512).
            unsafe { self.table(table).add(index).write_volatile(new) };
            return;
        }
        self.walk_leaves(self.root, LEVELS - 1, 0, from.get(), end.get() - 1, &mut |virt, entry, level| {
            let phys = A::entry_address(entry);
            match f(virt, phys, A::leaf_flags(entry)) {
                LeafEdit::Keep => Visit::<()>::Next,
                LeafEdit::Protect(flags) => Visit::Write(A::leaf_entry(phys, flags, level)),
                LeafEdit::Unmap => Visit::Write(0),
            }
        });
    }

    /// Clears every present leaf that starts in `[from, end)` (as
    /// [`Self::edit_leaves`] answering `Unmap` to each, with no call per
    /// entry) and returns the address of the first one cleared and the end
    /// of the last (`None`: none was present). Empty tables stay; the
    /// caller flushes that span.
    pub fn clear_leaves(&mut self, from: VirtAddr, end: VirtAddr) -> Option<(VirtAddr, VirtAddr)> {
        if from >= end || end.get() > 1 << 47 {
            return None;
        }
        if end.get() - from.get() == PAGE_SIZE && from.get().is_multiple_of(PAGE_SIZE) {
            // One page (a munmap of a page): one descent, as `edit_leaves`.
            let (table, index, _, level) = self.walk(from)?;
            if !from.get().is_multiple_of(PAGE_SIZE << (9 * level)) {
                return None;
            }
            // SAFETY: table frames are ours and reachable; `walk` found the
            // entry at `index` (below 512).
            unsafe { self.table(table).add(index).write_volatile(0) };
            return Some((from, from.add(PAGE_SIZE << (9 * level))));
        }
        let mut span: Option<(u64, u64)> = None;
        self.walk_leaves(self.root, LEVELS - 1, 0, from.get(), end.get() - 1, &mut |virt, _, level| {
            let last = virt.get() + (PAGE_SIZE << (9 * level));
            span = Some(span.map_or((virt.get(), last), |(first, _)| (first, last)));
            Visit::<()>::Write(0)
        });
        span.map(|(first, last)| (VirtAddr::new(first), VirtAddr::new(last)))
    }

    /// Visits the present leaves below `table` (at `level`, covering
    /// addresses from `base`) that start in `[first, last]`, in order,
    /// skipping empty subtrees whole; `visit` may have a leaf rewritten or
    /// stop the walk with a result. Only [`Self::edit_leaves`] (`&mut
    /// self`) asks for writes.
    fn walk_leaves<R>(
        &self,
        table: PhysAddr,
        level: usize,
        base: u64,
        first: u64,
        last: u64,
        visit: &mut impl FnMut(VirtAddr, u64, usize) -> Visit<R>,
    ) -> Option<R> {
        let span = PAGE_SIZE << (9 * level);
        let start = (first.saturating_sub(base) / span) as usize;
        for index in start..ENTRIES {
            let lo = base + index as u64 * span;
            if lo > last {
                break;
            }
            let entry = self.read(table, index);
            if !A::is_present(entry) {
                continue;
            }
            if level > 0 && A::is_table(entry, level) {
                if let Some(found) = self.walk_leaves(A::entry_address(entry), level - 1, lo, first, last, visit) {
                    return Some(found);
                }
            } else if lo >= first {
                match visit(VirtAddr::new(lo), entry, level) {
                    Visit::Next => {}
                    // SAFETY: `new`'s contract (table frames are ours and
                    // reachable); `index` is below 512. Asked for only
                    // under `&mut self` (edit_leaves).
                    Visit::Write(new) => unsafe { self.table(table).add(index).write_volatile(new) },
                    Visit::Stop(found) => return Some(found),
                }
            }
        }
        None
    }

    /// The root entry at `index` (for sharing the kernel half between roots).
    pub fn root_entry(&self, index: usize) -> u64 {
        self.read(self.root, index)
    }

    /// Sets the root entry at `index` (for sharing the kernel half).
    pub fn set_root_entry(&mut self, index: usize, entry: u64) {
        self.write(self.root, index, entry)
    }

    fn leaf(&self, virt: VirtAddr) -> Option<(u64, usize)> {
        self.walk(virt).map(|(_, _, entry, level)| (entry, level))
    }

    /// Finds the present leaf entry covering `virt`: its table, index,
    /// value and level.
    fn walk(&self, virt: VirtAddr) -> Option<(PhysAddr, usize, u64, usize)> {
        if !is_canonical(virt) {
            return None;
        }
        let mut table = self.root;
        for level in (0..LEVELS).rev() {
            let index = virt.table_index(level);
            let entry = self.read(table, index);
            if !A::is_present(entry) {
                return None;
            }
            if level == 0 || !A::is_table(entry, level) {
                return Some((table, index, entry, level));
            }
            table = A::entry_address(entry);
        }
        None
    }
}

/// Copies bit 47 into bits 63..48.
fn sign_extend(virt: u64) -> u64 {
    if virt & (1 << 47) != 0 { virt | 0xFFFF_0000_0000_0000 } else { virt }
}

/// Bits 63..48 must copy bit 47.
fn is_canonical(virt: VirtAddr) -> bool {
    let top = virt.get() >> 47;
    top == 0 || top == 0x1_FFFF
}

#[cfg(test)]
mod tests;
