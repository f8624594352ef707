//! `PageMapper`'s tests: every walk on both page-table formats (x86_64's
//! four levels and aarch64's 4 KiB granule), over [`TestMemory`] frames.

use super::*;
extern crate std;
use crate::testmem::TestMemory;
use crate::{AArch64, MemoryKind, X86_64};

/// A test per page-table format for each generic check: `name_x86_64` and
/// `name_aarch64` run `check::<X86_64>` and `check::<AArch64>`.
macro_rules! on_both_formats {
    ($($x86:ident, $arm:ident: $check:ident;)*) => {$(
        #[test]
        fn $x86() {
            $check::<X86_64>();
        }

        #[test]
        fn $arm() {
            $check::<AArch64>();
        }
    )*};
}

on_both_formats! {
    map_translate_unmap_x86_64, map_translate_unmap_aarch64: check_basic;
    edit_leaves_x86_64, edit_leaves_aarch64: check_edit_leaves;
    clear_leaves_x86_64, clear_leaves_aarch64: check_clear_leaves;
    edit_one_page_x86_64, edit_one_page_aarch64: check_edit_one_page;
    map_4k_pages_x86_64, map_4k_pages_aarch64: check_map_4k_pages;
}

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
    let again =
        [(VirtAddr::new(0x50_0000), PhysAddr::new(0x200_0000), rw), (VirtAddr::new(virts[1]), PhysAddr::new(0), rw)];
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
fn next_leaf_skips_empty_subtrees() {
    let mut mem = TestMemory::new(64);
    let mut m = fresh::<X86_64>(&mut mem);
    let flags = PageFlags::new().user(true);
    let pages = [0x1_0000u64, 0x1_1000, 0x40_0000_0000, 0x7FFF_FFFF_F000];
    for (i, page) in pages.iter().enumerate() {
        m.map(VirtAddr::new(*page), PhysAddr::new(0x10_0000 + i as u64 * PAGE_SIZE), PageSize::Size4K, flags, &mut mem)
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

/// Maps, with `flags`, the last 4 pages of one leaf table, every third
/// page of the next (a sparse one) and the first pages of the one after,
/// page `i` of the list at frame `0x100_0000 + i` pages. Returns the
/// middle table's first address and the pages in order.
fn map_three_tables<A: Arch>(
    m: &mut PageMapper<A>,
    mem: &mut TestMemory,
    flags: PageFlags,
) -> (u64, std::vec::Vec<u64>) {
    let base = 0x40_0000u64;
    let pages: std::vec::Vec<u64> = (0..4)
        .map(|i| base - 4 * PAGE_SIZE + i * PAGE_SIZE)
        .chain((0..600).step_by(3).map(|i| base + i * PAGE_SIZE))
        .collect();
    for (i, page) in pages.iter().enumerate() {
        let phys = PhysAddr::new(0x100_0000 + i as u64 * PAGE_SIZE);
        m.map(VirtAddr::new(*page), phys, PageSize::Size4K, flags, mem).unwrap().ignore();
    }
    (base, pages)
}

fn check_edit_leaves<A: Arch>() {
    let mut mem = TestMemory::new(64);
    let mut m = fresh::<A>(&mut mem);
    let rw = PageFlags::new().user(true).write(true);
    let ro = PageFlags::new().user(true);
    // Three leaf tables' worth; the range below leaves one page out.
    let (base, pages) = map_three_tables(&mut m, &mut mem, rw);
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

/// `clear_leaves` removes what `edit_leaves` answering `Unmap` would, and
/// tells the span from the first leaf cleared to the end of the last.
fn check_clear_leaves<A: Arch>() {
    let mut mem = TestMemory::new(64);
    let mut m = fresh::<A>(&mut mem);
    let rw = PageFlags::new().user(true).write(true);
    let (base, pages) = map_three_tables(&mut m, &mut mem, rw);
    let (from, end) = (VirtAddr::new(base - 2 * PAGE_SIZE - 5), VirtAddr::new(base + 597 * PAGE_SIZE));
    let inside: std::vec::Vec<u64> = pages.iter().copied().filter(|p| *p >= from.get() && *p < end.get()).collect();
    let span = m.clear_leaves(from, end);
    let (first, last) = (inside[0], inside[inside.len() - 1]);
    assert_eq!(span, Some((VirtAddr::new(first), VirtAddr::new(last + PAGE_SIZE))));
    for (i, page) in pages.iter().enumerate() {
        let phys = PhysAddr::new(0x100_0000 + i as u64 * PAGE_SIZE);
        let expect = (!inside.contains(page)).then_some((phys, rw, PageSize::Size4K));
        assert_eq!(m.translate(VirtAddr::new(*page)), expect, "page {page:#x}");
    }
    assert_eq!(m.clear_leaves(from, end), None, "nothing left to clear");
    assert_eq!(m.clear_leaves(end, from), None, "an inverted range");
    // A larger leaf counts whole, from where it starts.
    let block = VirtAddr::new(0x4000_0000);
    m.map(block, PhysAddr::new(0x20_0000), PageSize::Size2M, rw, &mut mem).unwrap().ignore();
    assert_eq!(m.clear_leaves(block.add(PAGE_SIZE), block.add(2 * PAGE_SIZE)), None, "starts before the range");
    assert_eq!(m.clear_leaves(block, block.add(PAGE_SIZE)), Some((block, block.add(PAGE_SIZE << 9))));
    assert_eq!(m.translate(block), None);
    // One page: the single descent.
    let page = VirtAddr::new(base + 3 * PAGE_SIZE);
    assert_eq!(m.clear_leaves(page, page.add(PAGE_SIZE)), None, "cleared above");
    m.map(page, PhysAddr::new(0x300_0000), PageSize::Size4K, rw, &mut mem).unwrap().ignore();
    assert_eq!(m.clear_leaves(page, page.add(PAGE_SIZE)), Some((page, page.add(PAGE_SIZE))));
    assert_eq!(m.translate(page), None);
}

/// A one-page range takes `edit_leaves`' single descent: the same leaves
/// visited as the scan would (a larger leaf only where it starts), the
/// same edits made.
fn check_edit_one_page<A: Arch>() {
    let mut mem = TestMemory::new(64);
    let mut m = fresh::<A>(&mut mem);
    let rw = PageFlags::new().user(true).write(true);
    let ro = PageFlags::new().user(true);
    let (page, phys) = (VirtAddr::new(0x40_0000), PhysAddr::new(0x100_0000));
    let (block, block_phys) = (VirtAddr::new(0x4000_0000), PhysAddr::new(0x20_0000));
    m.map(page, phys, PageSize::Size4K, rw, &mut mem).unwrap().ignore();
    m.map(block, block_phys, PageSize::Size2M, rw, &mut mem).unwrap().ignore();
    let edit = |m: &mut PageMapper<A>, at: VirtAddr, what: LeafEdit| {
        let mut seen = std::vec::Vec::new();
        m.edit_leaves(at, at.add(PAGE_SIZE), &mut |virt, frame, flags| {
            seen.push((virt, frame, flags));
            what
        });
        seen
    };
    assert_eq!(edit(&mut m, page, LeafEdit::Protect(ro)), [(page, phys, rw)]);
    assert_eq!(m.translate(page), Some((phys, ro, PageSize::Size4K)));
    assert_eq!(edit(&mut m, page, LeafEdit::Keep), [(page, phys, ro)]);
    assert_eq!(m.translate(page), Some((phys, ro, PageSize::Size4K)));
    // Nothing mapped, or a block that starts before the page: not visited.
    assert!(edit(&mut m, page.add(PAGE_SIZE), LeafEdit::Unmap).is_empty());
    assert!(edit(&mut m, block.add(PAGE_SIZE), LeafEdit::Unmap).is_empty());
    assert_eq!(m.translate(block.add(PAGE_SIZE)), Some((block_phys.add(PAGE_SIZE), rw, PageSize::Size2M)));
    // An unaligned start scans: the page it starts in is not visited.
    let mut visited = false;
    m.edit_leaves(page.add(1), page.add(1 + PAGE_SIZE), &mut |_, _, _| {
        visited = true;
        LeafEdit::Keep
    });
    assert!(!visited);
    assert_eq!(edit(&mut m, page, LeafEdit::Unmap), [(page, phys, ro)]);
    assert_eq!(m.translate(page), None);
    assert_eq!(edit(&mut m, block, LeafEdit::Unmap), [(block, block_phys, rw)]);
    assert_eq!(m.translate(block), None);
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
        m.map(VirtAddr::new(*v), PhysAddr::new(0x9000_0000 + i as u64 * PAGE_SIZE), PageSize::Size4K, user, &mut mem)
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
