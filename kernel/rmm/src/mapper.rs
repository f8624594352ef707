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
        self.walk_leaves(self.root, LEVELS - 1, 0, from.get(), end.get() - 1, &mut |virt, entry, level| {
            let phys = A::entry_address(entry);
            match f(virt, phys, A::leaf_flags(entry)) {
                LeafEdit::Keep => Visit::<()>::Next,
                LeafEdit::Protect(flags) => Visit::Write(A::leaf_entry(phys, flags, level)),
                LeafEdit::Unmap => Visit::Write(0),
            }
        });
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
mod tests {
    use super::*;
    extern crate std;
    use crate::testmem::TestMemory;
    use crate::{AArch64, MemoryKind, X86_64};

    fn fresh<A: Arch>(mem: &mut TestMemory) -> PageMapper<A> {
        let offset = mem.offset();
        // SAFETY: TestMemory frames are reachable at its offset.
        unsafe { PageMapper::<A>::create(mem, offset) }.unwrap()
    }

    fn check_basic<A: Arch>() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<A>(&mut mem);
        let virt = VirtAddr::new(0xFFFF_8000_0020_3000);
        let phys = PhysAddr::new(0x7_0000_5000);
        let flags = PageFlags::new().write(true);
        m.map(virt, phys, PageSize::Size4K, flags, &mut mem).unwrap().ignore();
        assert_eq!(mem.used(), 4, "root + three intermediate tables");
        assert_eq!(m.translate(virt.add(0x123)), Some((phys.add(0x123), flags, PageSize::Size4K)));
        assert_eq!(m.translate(virt.add(PAGE_SIZE)), None);
        assert_eq!(m.map(virt, phys, PageSize::Size4K, flags, &mut mem).unwrap_err(), MapError::AlreadyMapped);
        let (p, size, flush) = m.unmap(virt).unwrap();
        assert_eq!((p, size, flush.virt()), (phys, PageSize::Size4K, virt));
        assert_eq!(m.translate(virt), None);
        assert_eq!(m.unmap(virt).unwrap_err(), UnmapError::NotMapped);

        // protect keeps the frame and swaps the rights, both ways.
        let user_rw = PageFlags::new().user(true).write(true);
        let user_rx = PageFlags::new().user(true).execute(true);
        m.map(virt, phys, PageSize::Size4K, user_rw, &mut mem).unwrap().ignore();
        let (old, flush) = m.protect(virt, user_rx).unwrap();
        assert_eq!((old, flush.virt()), (user_rw, virt));
        assert_eq!(m.translate(virt), Some((phys, user_rx, PageSize::Size4K)));
        assert_eq!(m.protect(virt, user_rw).unwrap().0, user_rx);
        assert_eq!(m.translate(virt), Some((phys, user_rw, PageSize::Size4K)));
        assert_eq!(m.protect(virt.add(PAGE_SIZE), user_rw).unwrap_err(), UnmapError::NotMapped);
    }

    fn check_map_4k_pages<A: Arch>() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<A>(&mut mem);
        let rw = PageFlags::new().user(true).write(true);
        let ro = PageFlags::new().user(true);
        // Across a leaf table's end and into another top-level entry.
        let virts = [0x3F_E000u64, 0x3F_F000, 0x40_0000, 0x40_3000, 0x80_0000_0000];
        let pages = virts.iter().enumerate().map(|(i, &v)| {
            (VirtAddr::new(v), PhysAddr::new(0x100_0000 + i as u64 * PAGE_SIZE), if i % 2 == 0 { rw } else { ro })
        });
        m.map_4k_pages(pages.clone(), &mut mem).unwrap();
        for (virt, phys, flags) in pages.clone() {
            assert_eq!(m.translate(virt), Some((phys, flags, PageSize::Size4K)), "{virt:?}");
        }
        // Root, then for 0x3F_E000.. one table per level, one more leaf
        // table for 0x40_0000, and three tables for the far page.
        assert_eq!(mem.used(), 1 + 3 + 1 + 3);
        // The first error stops it; the pages before stay mapped.
        let again = [
            (VirtAddr::new(0x50_0000), PhysAddr::new(0x200_0000), rw),
            (VirtAddr::new(virts[1]), PhysAddr::new(0), rw),
        ];
        assert_eq!(m.map_4k_pages(again, &mut mem), Err(MapError::AlreadyMapped));
        assert!(m.translate(VirtAddr::new(0x50_0000)).is_some());
        let misaligned = [(VirtAddr::new(0x60_0800), PhysAddr::new(0x200_0000), rw)];
        assert_eq!(m.map_4k_pages(misaligned, &mut mem), Err(MapError::Misaligned));

        // No frame for a table: OutOfFrames at that page, the pages before
        // it mapped. Room for the root and one path of three tables only.
        let mut mem = TestMemory::new(4);
        let mut m = fresh::<A>(&mut mem);
        let short = [
            (VirtAddr::new(0x40_0000), PhysAddr::new(0x100_0000), rw),
            (VirtAddr::new(0x40_1000), PhysAddr::new(0x100_1000), rw),
            (VirtAddr::new(0x60_0000), PhysAddr::new(0x100_2000), rw),
        ];
        assert_eq!(m.map_4k_pages(short, &mut mem), Err(MapError::OutOfFrames));
        assert!(m.translate(VirtAddr::new(0x40_1000)).is_some(), "the pages before stay");
        assert_eq!(m.translate(VirtAddr::new(0x60_0000)), None);
    }

    #[test]
    fn map_4k_pages_x86_64() {
        check_map_4k_pages::<X86_64>();
    }

    #[test]
    fn map_4k_pages_aarch64() {
        check_map_4k_pages::<AArch64>();
    }

    #[test]
    fn next_leaf_skips_empty_subtrees() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<X86_64>(&mut mem);
        let flags = PageFlags::new().user(true);
        let pages = [0x1_0000u64, 0x1_1000, 0x40_0000_0000, 0x7FFF_FFFF_F000];
        for (i, page) in pages.iter().enumerate() {
            m.map(
                VirtAddr::new(*page),
                PhysAddr::new(0x10_0000 + i as u64 * PAGE_SIZE),
                PageSize::Size4K,
                flags,
                &mut mem,
            )
            .unwrap()
            .ignore();
        }
        let mut found = std::vec::Vec::new();
        let mut cursor = VirtAddr::new(0);
        let end = VirtAddr::new(1 << 47);
        while let Some((virt, _, _, size)) = m.next_leaf(cursor, end) {
            assert_eq!(size, PageSize::Size4K);
            found.push(virt.get());
            cursor = virt.add(PAGE_SIZE);
        }
        assert_eq!(found, pages);
        // Bounds are honoured: the start is inclusive, the end exclusive.
        assert_eq!(m.next_leaf(VirtAddr::new(0x1_1000), VirtAddr::new(0x1_2000)).map(|l| l.0.get()), Some(0x1_1000));
        assert_eq!(m.next_leaf(VirtAddr::new(0x1_2000), VirtAddr::new(0x40_0000_0000)), None);
        assert_eq!(m.next_leaf(VirtAddr::new(0x1_0000), VirtAddr::new(0x1_0000)), None);
    }

    fn check_edit_leaves<A: Arch>() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<A>(&mut mem);
        let rw = PageFlags::new().user(true).write(true);
        let ro = PageFlags::new().user(true);
        // Three leaf tables' worth: the last pages of one table, a whole
        // sparse one, the first of the next; and one page past the range.
        let base = 0x40_0000u64;
        let pages: std::vec::Vec<u64> = (0..4)
            .map(|i| base - 4 * PAGE_SIZE + i * PAGE_SIZE)
            .chain((0..600).step_by(3).map(|i| base + i * PAGE_SIZE))
            .collect();
        for (i, page) in pages.iter().enumerate() {
            let phys = PhysAddr::new(0x100_0000 + i as u64 * PAGE_SIZE);
            m.map(VirtAddr::new(*page), phys, PageSize::Size4K, rw, &mut mem).unwrap().ignore();
        }
        let (from, end) = (VirtAddr::new(base - 2 * PAGE_SIZE), VirtAddr::new(base + 597 * PAGE_SIZE));
        let mut seen = std::vec::Vec::new();
        m.edit_leaves(from, end, &mut |virt, _, flags| {
            assert_eq!(flags, rw);
            seen.push(virt.get());
            match (virt.get() / PAGE_SIZE) % 3 {
                0 => LeafEdit::Protect(ro),
                1 => LeafEdit::Unmap,
                _ => LeafEdit::Keep,
            }
        });
        let inside: std::vec::Vec<u64> = pages.iter().copied().filter(|p| *p >= from.get() && *p < end.get()).collect();
        assert_eq!(seen, inside, "every present leaf in the range, in order, once");
        for (i, page) in pages.iter().enumerate() {
            let phys = PhysAddr::new(0x100_0000 + i as u64 * PAGE_SIZE);
            let expect = if !inside.contains(page) {
                Some((phys, rw, PageSize::Size4K))
            } else {
                match (page / PAGE_SIZE) % 3 {
                    0 => Some((phys, ro, PageSize::Size4K)),
                    1 => None,
                    _ => Some((phys, rw, PageSize::Size4K)),
                }
            };
            assert_eq!(m.translate(VirtAddr::new(*page)), expect, "page {page:#x}");
        }
        // An empty or inverted range visits nothing.
        m.edit_leaves(end, from, &mut |_, _, _| panic!("visited"));
    }

    #[test]
    fn edit_leaves_x86_64() {
        check_edit_leaves::<X86_64>();
    }

    #[test]
    fn edit_leaves_aarch64() {
        check_edit_leaves::<AArch64>();
    }

    #[test]
    fn map_translate_unmap_x86_64() {
        check_basic::<X86_64>();
    }

    #[test]
    fn map_translate_unmap_aarch64() {
        check_basic::<AArch64>();
    }

    #[test]
    fn blocks_and_conflicts() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<X86_64>(&mut mem);
        let f = PageFlags::new().kind(MemoryKind::Device);
        let base = VirtAddr::new(0x4000_0000);
        assert_eq!(
            m.map(base.add(PAGE_SIZE), PhysAddr::new(0), PageSize::Size2M, f, &mut mem).unwrap_err(),
            MapError::Misaligned
        );
        m.map(base, PhysAddr::new(0x20_0000), PageSize::Size2M, f, &mut mem).unwrap().ignore();
        assert_eq!(
            m.map(base.add(PAGE_SIZE), PhysAddr::new(0), PageSize::Size4K, f, &mut mem).unwrap_err(),
            MapError::BlockInTheWay
        );
        let (p, _, size) = m.translate(base.add(0x1_2345)).unwrap();
        assert_eq!((p, size), (PhysAddr::new(0x21_2345), PageSize::Size2M));
        assert_eq!(m.unmap(base.add(PAGE_SIZE)).unwrap_err(), UnmapError::NotAtStart);
        assert_eq!(
            m.map(VirtAddr::new(0x0000_8000_0000_0000), PhysAddr::new(0), PageSize::Size4K, f, &mut mem).unwrap_err(),
            MapError::NonCanonical
        );
    }

    #[test]
    fn map_range_uses_large_blocks_where_aligned() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<AArch64>(&mut mem);
        let virt = VirtAddr::new(0xFFFF_8000_3FE0_0000);
        let phys = PhysAddr::new(0x3FE0_0000);
        // 2 MiB below the 1 GiB boundary, one full GiB, then 3 pages.
        let len = 0x20_0000 + 0x4000_0000 + 3 * PAGE_SIZE;
        m.map_range(virt, phys, len, PageFlags::new().write(true), PageSize::Size1G, &mut mem).unwrap();
        assert_eq!(m.translate(virt).unwrap().2, PageSize::Size2M);
        assert_eq!(m.translate(virt.add(0x20_0000)).unwrap().2, PageSize::Size1G);
        let last = virt.add(len - 1);
        assert_eq!(m.translate(last).unwrap(), (phys.add(len - 1), PageFlags::new().write(true), PageSize::Size4K));
        assert_eq!(m.translate(virt.add(len)), None);
    }

    #[test]
    fn clearing_the_user_half_returns_every_frame() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<X86_64>(&mut mem);
        let user = PageFlags::new().write(true).user(true);
        let pages = [0x1000u64, 0x2000, 0x40_0000, 0x7FFF_FFFF_F000];
        for (i, v) in pages.iter().enumerate() {
            m.map(
                VirtAddr::new(*v),
                PhysAddr::new(0x9000_0000 + i as u64 * PAGE_SIZE),
                PageSize::Size4K,
                user,
                &mut mem,
            )
            .unwrap()
            .ignore();
        }
        let kernel = VirtAddr::new(0xFFFF_8000_0000_0000);
        m.map(kernel, PhysAddr::new(0), PageSize::Size2M, PageFlags::new(), &mut mem).unwrap().ignore();
        let mut seen = std::vec::Vec::new();
        m.for_each_leaf(0..512, &mut |v, p, f, size| seen.push((v.get(), p.get(), f.is_user(), size)));
        assert_eq!(seen.len(), 5);
        assert_eq!(seen[0], (0x1000, 0x9000_0000, true, PageSize::Size4K));
        assert_eq!(seen[3], (0x7FFF_FFFF_F000, 0x9000_3000, true, PageSize::Size4K));
        assert_eq!(seen[4], (kernel.get(), 0, false, PageSize::Size2M));
        let tables_before = mem.used();
        let (mut leaves, mut tables) = (std::vec::Vec::new(), 0);
        m.clear_root_entries(0..256, &mut |p, _| leaves.push(p.get()), &mut |_| tables += 1);
        leaves.sort();
        assert_eq!(leaves, [0x9000_0000, 0x9000_1000, 0x9000_2000, 0x9000_3000]);
        // 0x1000/0x2000/0x40_0000 share a PDPT and PD, two PTs; the top page
        // has its own PDPT, PD and PT.
        assert_eq!(tables, 2 + 2 + 3);
        assert_eq!(tables_before, 1 + tables + 2, "root + freed tables + kernel's PDPT and PD");
        assert!(pages.iter().all(|v| m.translate(VirtAddr::new(*v)).is_none()));
        assert!(m.translate(kernel).is_some(), "the kernel half is untouched");
    }

    #[test]
    fn prune_frees_only_empty_tables_in_range() {
        let mut mem = TestMemory::new(64);
        let mut m = fresh::<X86_64>(&mut mem);
        let user = PageFlags::new().write(true).user(true);
        let (kept, far) = (VirtAddr::new(0x40_0000), VirtAddr::new(0x7F00_0000_0000));
        for v in [kept, kept.add(PAGE_SIZE), far] {
            m.map(v, PhysAddr::new(0x9000_0000), PageSize::Size4K, user, &mut mem).unwrap().ignore();
        }
        m.unmap(kept.add(PAGE_SIZE)).unwrap().2.ignore();
        m.unmap(far).unwrap().2.ignore();
        let mut tables = std::vec::Vec::new();
        // A range without empty tables frees nothing.
        assert_eq!(m.prune(kept, kept.add(2 * PAGE_SIZE), &mut |t| tables.push(t)), 0);
        // The far page's PDPT, PD and PT are empty: all three go.
        assert_eq!(m.prune(far, far.add(PAGE_SIZE), &mut |t| tables.push(t)), 3);
        assert_eq!(tables.len(), 3);
        assert_eq!(m.translate(kept), Some((PhysAddr::new(0x9000_0000), user, PageSize::Size4K)));
        // The whole user half: the kept page's tables stay.
        assert_eq!(m.prune(VirtAddr::new(0), VirtAddr::new(0x8000_0000_0000), &mut |t| tables.push(t)), 0);
        m.unmap(kept).unwrap().2.ignore();
        assert_eq!(m.prune(VirtAddr::new(0), VirtAddr::new(0x8000_0000_0000), &mut |t| tables.push(t)), 3);
        // Mapping again after pruning works.
        m.map(far, PhysAddr::new(0x9000_0000), PageSize::Size4K, user, &mut mem).unwrap().ignore();
        assert!(m.translate(far).is_some());
    }

    #[test]
    fn out_of_frames_is_an_error() {
        let mut mem = TestMemory::new(2);
        let mut m = fresh::<X86_64>(&mut mem);
        let err = m.map(VirtAddr::new(0x1000), PhysAddr::new(0x1000), PageSize::Size4K, PageFlags::new(), &mut mem);
        assert_eq!(err.unwrap_err(), MapError::OutOfFrames);
        assert_eq!(m.translate(VirtAddr::new(0x1000)), None);
    }
}
