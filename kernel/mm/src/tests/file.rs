//! File mappings: pages fetched from the lender on fault, shared and
//! private semantics, pins handed back exactly once (partial munmap, fork,
//! teardown, MAP_FIXED replace, mremap shrink), mremap moves and growth
//! (the lease extended by a second window), rollback keeping pins,
//! and the pin runs (`PinRuns`) checked page by page against a plain count
//! array, at sizes where a rescan per grant would show.

use std::sync::Arc;

use super::harness::*;
use crate::{
    Access, Advice, FileMap, FileRef, FileRelease, FrameStore, MapFlags, MapSource, MmError, MmapRequest, PinRuns,
    RemapFlags, Shootdown,
};

fn lease(first_page: u64, pages: u64, shared: bool) -> FileRef {
    FileMap::new(first_page, pages, shared, true, 0, Arc::new(()))
}

fn map(w: &mut World, space: &mut Space, file: &FileRef, prot: crate::Prot) -> Result<rmm::VirtAddr, MmError> {
    let flags = if file.is_shared() { SHARED } else { PRIVATE };
    let request =
        MmapRequest::anonymous(file.pages() * PAGE, prot, flags).source(MapSource::File { file: file.clone() });
    w.mmap(space, &request)
}

/// Runs `op` like `World::run` but returns the releases too.
fn run_releasing<T>(
    w: &mut World,
    space: &mut Space,
    op: impl FnOnce(&mut Space, &mut super::fake::FakeFrames, &mut Shootdown) -> T,
) -> (T, Vec<FileRelease>) {
    let mut tlb = Shootdown::new();
    let result = op(space, &mut w.frames, &mut tlb);
    space.table().flush(&tlb);
    let releases = tlb.finish(&mut w.frames);
    (result, releases)
}

fn ranges(releases: &[FileRelease]) -> Vec<(u64, u64, bool)> {
    releases.iter().map(|r| (r.first_page, r.pages, r.needs_sync)).collect()
}

#[test]
fn shared_file_pages_come_from_the_lender_and_writes_reach_it() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(100, 4, true);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    assert_eq!(s.resident_pages(), 0, "lazy: nothing fetched at mmap");
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(0));
    let lent = w.lent(file.id(), 101);
    assert_eq!(s.translate(a.add(PAGE)).unwrap().0, lent, "the lender's own frame");
    assert_eq!(w.frames.refcount_of(lent), 2, "the lender's reference and ours");
    w.write(&mut s, a.add(PAGE), 7).unwrap();
    assert_eq!(w.frames.tag(lent), 7, "a shared write reaches the file's page");
    // The daemon writes the file: the mapping sees it at once.
    w.frames.write(lent, 8);
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(8));
    assert_eq!(s.resident_pages(), 1);
    w.check(&[&s], &[]);
    assert!(s.grants().next().unwrap().to_string().contains("rw-s fmap:"), "{}", s.grants().next().unwrap());

    // Partial munmap hands back exactly that range, with a sync (written).
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| s.munmap(f, a.add(PAGE), 2 * PAGE, t));
    result.unwrap();
    assert_eq!(ranges(&releases), [(101, 2, true)]);
    assert_eq!(file.pinned_pages(), 2);
    assert_eq!(w.frames.refcount_of(lent), 1, "only the lender's reference is left");
    // The rest stays mapped and readable.
    assert_eq!(w.read(&mut s, a), Ok(0));
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(0));
    w.check(&[&s], &[]);
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(ranges(&releases), [(100, 1, true), (103, 1, true)]);
    assert_eq!(file.pinned_pages(), 0);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn private_file_pages_are_copied_on_write_and_never_reach_the_file() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 2, false);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(0));
    let lent = w.lent(file.id(), 0);
    w.frames.write(lent, 5);
    assert_eq!(w.read(&mut s, a), Ok(5), "before the first write, the file's page");
    assert!(!s.translate(a).unwrap().1.is_writable(), "read-only until written");
    w.write(&mut s, a, 6).unwrap();
    assert_ne!(s.translate(a).unwrap().0, lent, "a private copy");
    assert_eq!(w.frames.tag(lent), 5, "the file is unchanged");
    assert_eq!(w.frames.refcount_of(lent), 1);
    // A write to a never-read page copies the file's page too.
    w.write(&mut s, a.add(PAGE), 9).unwrap();
    assert_eq!(w.frames.tag(w.lent(file.id(), 1)), 0);
    w.check(&[&s], &[]);
    // DONTNEED drops the private copy: the file's data shows again.
    w.madvise(&mut s, a, PAGE, Advice::DontNeed).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(5));
    assert_eq!(file.pinned_pages(), 2, "madvise keeps the pins");
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| s.munmap(f, a, 2 * PAGE, t));
    result.unwrap();
    assert_eq!(ranges(&releases), [(0, 2, false)], "private: no sync");
    w.check(&[&s], &[]);
    w.teardown(s);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn fork_pins_again_and_pages_go_back_after_the_last_mapping() {
    let mut w = World::new();
    let mut parent = w.space();
    let shared = lease(0, 2, true);
    let private = lease(10, 2, false);
    let a = map(&mut w, &mut parent, &shared, RW).unwrap();
    let b = map(&mut w, &mut parent, &private, RW).unwrap();
    w.write(&mut parent, a, 1).unwrap();
    w.write(&mut parent, b, 2).unwrap();
    let mut child = w.fork(&mut parent).unwrap();
    w.check(&[&parent, &child], &[]);
    // Shared: the child's write is the parent's (and the file's).
    w.write(&mut child, a, 3).unwrap();
    assert_eq!(w.read(&mut parent, a), Ok(3));
    assert_eq!(w.frames.tag(w.lent(shared.id(), 0)), 3);
    // Private: each side has its own copy.
    w.write(&mut child, b, 4).unwrap();
    assert_eq!(w.read(&mut parent, b), Ok(2));
    assert_eq!(w.read(&mut child, b), Ok(4));
    w.check(&[&parent, &child], &[]);

    let (result, releases) = run_releasing(&mut w, &mut parent, |s, f, t| s.munmap(f, a, 2 * PAGE, t));
    result.unwrap();
    assert!(releases.is_empty(), "the child still maps them: {:?}", ranges(&releases));
    let (_, releases) = child.teardown(&mut w.frames);
    let mut got = ranges(&releases);
    got.sort();
    assert_eq!(got, [(0, 2, true)]);
    assert_eq!(shared.pinned_pages(), 0);
    assert_eq!(private.pinned_pages(), 2, "the parent still maps the private lease");
    let (_, releases) = parent.teardown(&mut w.frames);
    assert_eq!(ranges(&releases), [(10, 2, false)]);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn replace_shrink_move_and_rollback_keep_the_pins_right() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 8, true);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    w.write_pages(&mut s, a, 8, 10);
    // A failed mremap move (out of frames for page tables) changes nothing.
    let before = Snapshot::of(&[&s], &[], &w.frames);
    w.plan.fail_in(1);
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
        s.mremap(f, a, 8 * PAGE, 4 * PAGE, RemapFlags::MAYMOVE | RemapFlags::FIXED, va(0x3000_0000), None, t)
    });
    w.plan.clear();
    if result.is_err() {
        assert!(releases.is_empty(), "a rolled-back call hands nothing back");
        assert_eq!(file.pinned_pages(), 8);
        assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    }
    let moved = match result {
        Ok(moved) => {
            assert_eq!(ranges(&releases), [(4, 4, true)]);
            moved
        }
        Err(_) => {
            let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
                s.mremap(f, a, 8 * PAGE, 4 * PAGE, RemapFlags::MAYMOVE | RemapFlags::FIXED, va(0x3000_0000), None, t)
            });
            assert_eq!(ranges(&releases), [(4, 4, true)], "a shrinking move hands back the tail");
            result.unwrap()
        }
    };
    assert_eq!(w.read(&mut s, moved.add(3 * PAGE)), Ok(13), "moved pages keep their file page");
    // Growing a file mapping needs the scheme first; DONTUNMAP needs equal
    // lengths.
    assert_eq!(w.mremap(&mut s, moved, 4 * PAGE, 8 * PAGE, RemapFlags::MAYMOVE, va(0)), Err(MmError::Unsupported));
    let dontunmap = RemapFlags::MAYMOVE | RemapFlags::DONTUNMAP;
    assert_eq!(w.mremap(&mut s, moved, 4 * PAGE, 3 * PAGE, dontunmap, va(0)), Err(MmError::Inval));
    // MAP_FIXED over the middle hands those pages back.
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
        let request = MmapRequest::anonymous(2 * PAGE, RW, PRIVATE | MapFlags::FIXED).at(moved.add(PAGE));
        s.mmap(f, &request, t)
    });
    result.unwrap();
    assert_eq!(ranges(&releases), [(1, 2, true)]);
    assert_eq!(file.pinned_pages(), 2);
    w.check(&[&s], &[]);
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(ranges(&releases), [(0, 1, true), (3, 1, true)]);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn read_only_files_cannot_become_shared_writable() {
    let mut w = World::new();
    let mut s = w.space();
    let file = FileMap::new(0, 1, true, false, 0, Arc::new(()));
    let a = map(&mut w, &mut s, &file, R).unwrap();
    assert_eq!(w.mprotect(&mut s, a, PAGE, RW), Err(MmError::Access));
    assert_eq!(w.write(&mut s, a, 1), Err(crate::FaultError::Segv));
    assert_eq!(w.read(&mut s, a), Ok(0));
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(ranges(&releases), [(0, 1, false)], "never writable: no sync");
    // A private mapping of the same file may be written (copies).
    let mut s = w.space();
    let private = FileMap::new(0, 1, false, false, 0, Arc::new(()));
    let b = map(&mut w, &mut s, &private, RW).unwrap();
    w.write(&mut s, b, 2).unwrap();
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(releases.len(), 1);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn a_fault_outside_the_lease_or_after_unmap_does_not_fetch() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 2, true);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    // The page went away between the fault and the supply: the frame is
    // dropped, nothing is mapped.
    let mut tlb = Shootdown::new();
    assert_eq!(s.fault(&mut w.frames, a, Access::Read, &mut tlb), Err(crate::FaultError::FilePage));
    let _ = tlb.finish(&mut w.frames);
    let (wanted, index) = s.file_page_wanted(a).unwrap();
    w.munmap(&mut s, a, 2 * PAGE).unwrap();
    let frame = w.frames.allocate_zeroed().unwrap();
    assert!(!s.supply_file_page(&mut w.frames, a, &wanted, index, wanted.generation(), frame));
    assert!(!w.frames.is_live(frame), "the unused reference was dropped");
    assert_eq!(s.file_page_wanted(a).map(|(_, i)| i), None);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

/// Checks `runs` against per-page counts `model` (index = page): sorted,
/// disjoint, counts above zero, touching runs of different counts, and
/// every page's count right.
fn check_runs(runs: &PinRuns, model: &[u32]) {
    let mut counted = vec![0u32; model.len()];
    let mut last: Option<(u64, u32)> = None;
    for (start, end, count) in runs.runs() {
        assert!(start < end && count > 0, "bad run {start}..{end} x{count}");
        if let Some((last_end, last_count)) = last {
            assert!(last_end <= start, "runs overlap at {start}");
            assert!(!(last_end == start && last_count == count), "unmerged runs at {start}");
        }
        for page in start..end {
            counted[page as usize] = count;
        }
        last = Some((end, count));
    }
    assert_eq!(counted, model);
}

#[test]
fn pin_runs_match_per_page_counts_and_free_each_page_once() {
    const PAGES: u64 = 64;
    let mut rng = Rng::new(7);
    for round in 0..200 {
        let mut runs = PinRuns::new(0, PAGES);
        let mut model = vec![1u32; PAGES as usize];
        let mut freed_total = vec![0u32; PAGES as usize];
        for _ in 0..60 {
            let start = rng.below(PAGES);
            let end = start + 1 + rng.below(PAGES - start);
            let span = start as usize..end as usize;
            if model[span.clone()].iter().all(|&c| c > 0) {
                if rng.chance(50) {
                    runs.pin(start, end);
                    model[span].iter_mut().for_each(|c| *c += 1);
                } else {
                    let freed = runs.unpin(start, end);
                    let mut expect: Vec<(u64, u64)> = Vec::new();
                    for page in span {
                        model[page] -= 1;
                        if model[page] == 0 {
                            freed_total[page] += 1;
                            match expect.last_mut() {
                                Some((_, e)) if *e == page as u64 => *e += 1,
                                _ => expect.push((page as u64, page as u64 + 1)),
                            }
                        }
                    }
                    assert_eq!(freed, expect, "round {round}");
                }
            }
            check_runs(&runs, &model);
        }
        // Drop every pin left: each page comes back exactly once overall.
        for page in 0..PAGES {
            while model[page as usize] > 0 {
                model[page as usize] -= 1;
                let freed = runs.unpin(page, page + 1);
                if model[page as usize] == 0 {
                    assert_eq!(freed, [(page, page + 1)]);
                    freed_total[page as usize] += 1;
                } else {
                    assert!(freed.is_empty());
                }
            }
        }
        assert!(runs.is_empty());
        assert!(freed_total.iter().all(|&n| n == 1), "round {round}: {freed_total:?}");
    }
}

/// 40k grants of one lease whose pins alternate (a first child unmapped
/// every other page): a fork pins each grant and must not rescan every run
/// for each (that was seconds with the space lock held); pins stay right
/// through forks and partial unmaps, and every page goes back exactly once.
#[test]
fn many_grants_fork_fast_and_pins_stay_right() {
    const N: u64 = 40_000;
    let mut w = World::new();
    let mut parent = w.space();
    let file = lease(0, N, true);
    let a = map(&mut w, &mut parent, &file, RW).unwrap();
    for i in (0..N).step_by(2) {
        w.mprotect(&mut parent, a.add(i * PAGE), PAGE, R).unwrap();
    }
    assert_eq!(parent.grants().count() as u64, N, "grants cannot merge");
    let started = std::time::Instant::now();
    let mut first = w.fork(&mut parent).unwrap();
    let baseline = started.elapsed();
    assert_eq!(file.pin_runs(), [(0, N, 2)], "a uniform lease is one run");
    let mut released = vec![0u32; N as usize];
    let mut note = |releases: Vec<FileRelease>| {
        for r in releases {
            for page in r.first_page..r.first_page + r.pages {
                released[page as usize] += 1;
            }
        }
    };
    for i in (0..N).step_by(2) {
        let (result, releases) = run_releasing(&mut w, &mut first, |s, f, t| s.munmap(f, a.add(i * PAGE), PAGE, t));
        result.unwrap();
        assert!(releases.is_empty(), "the parent still maps page {i}");
    }
    assert_eq!(file.pin_runs().len() as u64, N, "alternating counts");
    let started = std::time::Instant::now();
    let mut second = w.fork(&mut parent).unwrap();
    let took = started.elapsed();
    // Relative to the same fork over one run (not a wall-clock bound, which
    // a loaded machine breaks): rescanning every run per grant was ~1000x.
    assert!(
        took < baseline * 20 + std::time::Duration::from_millis(200),
        "fork of {N} grants took {took:?}, one run {baseline:?}"
    );
    let model: Vec<u32> = (0..N).map(|i| if i % 2 == 0 { 2 } else { 3 }).collect();
    let mut runs = PinRuns::new(0, N);
    runs.pin(0, N);
    for i in (1..N).step_by(2) {
        runs.pin(i, i + 1);
    }
    check_runs(&runs, &model);
    assert_eq!(file.pin_runs(), runs.runs());
    // Partial unmaps across grant boundaries in the second child and the
    // parent: nothing goes back while someone else maps the page.
    let (result, releases) =
        run_releasing(&mut w, &mut second, |s, f, t| s.munmap(f, a.add(100 * PAGE), 1000 * PAGE, t));
    result.unwrap();
    assert!(releases.is_empty());
    let (result, releases) =
        run_releasing(&mut w, &mut parent, |s, f, t| s.munmap(f, a.add(500 * PAGE), 1000 * PAGE, t));
    result.unwrap();
    // Pages 500..1100 are now mapped by nobody but the first child (odd
    // ones); even ones there went back now.
    let mut got = ranges(&releases).iter().map(|(p, n, _)| (*p, *n)).collect::<Vec<_>>();
    got.sort();
    let expect: Vec<(u64, u64)> = (500..1100).step_by(2).map(|p| (p, 1)).collect();
    assert_eq!(got, expect);
    note(releases);
    for space in [parent, first, second] {
        let (_, releases) = space.teardown(&mut w.frames);
        note(releases);
    }
    assert!(released.iter().all(|&n| n == 1), "each page handed back exactly once");
    assert_eq!(file.pinned_pages(), 0);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

/// A fresh world and space with a read-write mapping of a new lease.
fn mapped(first_page: u64, pages: u64, shared: bool) -> (World, Space, FileRef, rmm::VirtAddr) {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(first_page, pages, shared);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    (w, s, file, a)
}

#[test]
fn a_file_mapping_moves_to_a_fixed_address_with_its_pins_and_data() {
    let (mut w, mut s, file, a) = mapped(0, 6, true);
    // Some pages fetched and written, some never touched.
    for i in [0, 2, 3] {
        w.write(&mut s, a.add(i * PAGE), 20 + i).unwrap();
    }
    // Something mapped at the target already: replaced.
    let target = va(0x3000_0000);
    w.anon_at(&mut s, 0x3000_0000 + PAGE, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    let fixed = RemapFlags::MAYMOVE | RemapFlags::FIXED;
    let (result, releases) =
        run_releasing(&mut w, &mut s, |s, f, t| s.mremap(f, a, 6 * PAGE, 6 * PAGE, fixed, target, None, t));
    assert_eq!(result, Ok(target));
    assert!(releases.is_empty(), "a move keeps every pin: {releases:?}");
    assert_eq!(file.pinned_pages(), 6);
    assert_eq!(s.grants().count(), 1);
    for i in 0..6 {
        assert_eq!(w.read(&mut s, a.add(i * PAGE)), Err(crate::FaultError::Segv), "old page {i} unmapped");
        let want = if [0, 2, 3].contains(&i) { 20 + i } else { 0 };
        assert_eq!(w.read(&mut s, target.add(i * PAGE)), Ok(want), "page {i}");
    }
    assert_eq!(w.frames.tag(w.lent(file.id(), 3)), 23, "the file's page itself");
    // Part of it to another fixed address.
    let back = va(0x2000_0000);
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
        s.mremap(f, target.add(PAGE), 2 * PAGE, 2 * PAGE, fixed, back, None, t)
    });
    assert_eq!(result, Ok(back));
    assert!(releases.is_empty(), "{releases:?}");
    assert_eq!(w.read(&mut s, back.add(PAGE)), Ok(22));
    // MAYMOVE alone, to wherever there is room.
    let moved = w.mremap(&mut s, back, 2 * PAGE, 2 * PAGE, RemapFlags::MAYMOVE, va(0)).unwrap();
    assert_eq!(w.read(&mut s, moved.add(PAGE)), Ok(22));
    w.check(&[&s], &[]);
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(releases.iter().map(|r| r.pages).sum::<u64>(), 6);
    assert!(releases.iter().all(|r| r.needs_sync));
    assert_eq!(file.pinned_pages(), 0);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

/// Grows the file mapping at `a` as the kernel does: the pages
/// [`crate::AddrSpace::file_growth`] names are lent at `lender_base`, then
/// [`crate::AddrSpace::mremap`] with the growth.
#[allow(clippy::too_many_arguments)]
fn grow(
    w: &mut World,
    s: &mut Space,
    a: rmm::VirtAddr,
    old_pages: u64,
    new_pages: u64,
    flags: RemapFlags,
    new_addr: rmm::VirtAddr,
    lender_base: u64,
) -> (Result<rmm::VirtAddr, MmError>, Vec<FileRelease>) {
    assert_eq!(w.mremap(s, a, old_pages * PAGE, new_pages * PAGE, flags, new_addr), Err(MmError::Unsupported));
    let mut growth = s.file_growth(a, old_pages * PAGE, new_pages * PAGE).expect("a growth");
    growth.lender_base = lender_base;
    run_releasing(w, s, |s, f, t| s.mremap(f, a, old_pages * PAGE, new_pages * PAGE, flags, new_addr, Some(&growth), t))
}

#[test]
fn a_file_mapping_grows_in_place_and_by_moving_extending_its_lease() {
    let (mut w, mut s, file, a) = mapped(10, 2, true);
    assert_eq!(file.lender_address(11), Some(PAGE));
    w.write(&mut s, a, 1).unwrap();
    // In place: pages 12..14 lent at a second window.
    let (result, releases) = grow(&mut w, &mut s, a, 2, 4, RemapFlags::empty(), va(0), 0x70_0000);
    assert_eq!(result, Ok(a));
    assert!(releases.is_empty(), "{releases:?}");
    assert_eq!(s.grants().count(), 1, "one grant of one lease");
    assert_eq!((file.pages(), file.pinned_pages()), (4, 4));
    assert_eq!(file.lender_address(13), Some(0x70_0000 + PAGE));
    assert_eq!(file.lender_address(11), Some(PAGE), "the first window stays");
    w.write(&mut s, a.add(3 * PAGE), 4).unwrap();
    assert_eq!(w.frames.tag(w.lent(file.id(), 13)), 4, "a write to a grown page reaches the file");
    assert_eq!(w.read(&mut s, a), Ok(1));
    // Blocked: no MAYMOVE is ENOMEM and changes nothing; the caller hands
    // the lent pages back.
    w.anon_at(&mut s, a.get() + 4 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    let before = Snapshot::of(&[&s], &[], &w.frames);
    let (result, releases) = grow(&mut w, &mut s, a, 4, 6, RemapFlags::empty(), va(0), 0x80_0000);
    assert_eq!(result, Err(MmError::NoMem));
    assert!(releases.is_empty());
    assert_eq!((file.pages(), file.pinned_pages()), (4, 4), "the lease is as it was");
    assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    // A failed move (out of frames for page tables) changes nothing either.
    w.plan.fail_in(1);
    let (result, releases) = grow(&mut w, &mut s, a, 4, 6, RemapFlags::MAYMOVE, va(0), 0x80_0000);
    w.plan.clear();
    let b = match result {
        Ok(b) => b,
        Err(_) => {
            assert!(releases.is_empty());
            assert_eq!((file.pages(), file.pinned_pages()), (4, 4));
            assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
            grow(&mut w, &mut s, a, 4, 6, RemapFlags::MAYMOVE, va(0), 0x80_0000).0.unwrap()
        }
    };
    assert_ne!(b, a);
    assert_eq!((file.pages(), file.pinned_pages()), (6, 6));
    assert_eq!(w.read(&mut s, b), Ok(1));
    assert_eq!(w.read(&mut s, b.add(3 * PAGE)), Ok(4), "moved with its data");
    w.write(&mut s, b.add(5 * PAGE), 6).unwrap();
    assert_eq!(w.frames.tag(w.lent(file.id(), 15)), 6);
    assert_eq!(w.read(&mut s, a), Err(crate::FaultError::Segv), "the old range is gone");
    // A stale request (the mapping changed since) is refused as EOPNOTSUPP.
    let stale = crate::FileGrowth { file: file.clone(), first_page: 12, end_page: 14, lender_base: 0 };
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
        s.mremap(f, b, 6 * PAGE, 8 * PAGE, MAYMOVE_ONLY, va(0), Some(&stale), t)
    });
    assert_eq!(result, Err(MmError::Unsupported));
    assert!(releases.is_empty());
    // Shrink: the tail goes back to the scheme.
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| {
        s.mremap(f, b, 6 * PAGE, 3 * PAGE, RemapFlags::empty(), va(0), None, t)
    });
    assert_eq!(result, Ok(b));
    assert_eq!(ranges(&releases), [(13, 3, true)]);
    w.check(&[&s], &[]);
    let (_, releases) = s.teardown(&mut w.frames);
    assert_eq!(ranges(&releases), [(10, 3, true)]);
    assert_eq!(file.pinned_pages(), 0);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

const MAYMOVE_ONLY: RemapFlags = RemapFlags::MAYMOVE;

#[test]
fn growing_over_pages_another_grant_pins_hands_the_second_lending_back() {
    let (mut w, mut s, file, a) = mapped(0, 4, true);
    let mut child = w.fork(&mut s).unwrap();
    // The parent drops pages 2..4 (the child still maps them), then grows
    // back over them and one page more.
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| s.munmap(f, a.add(2 * PAGE), 2 * PAGE, t));
    result.unwrap();
    assert!(releases.is_empty(), "the child still pins them");
    let (result, releases) = grow(&mut w, &mut s, a, 2, 5, MAYMOVE_ONLY, va(0), 0x90_0000);
    let b = result.unwrap();
    assert_eq!(ranges(&releases), [(2, 2, true)], "lent twice: the second lending goes back");
    assert_eq!(file.lender_address(3), Some(3 * PAGE), "pinned pages keep their window");
    assert_eq!(file.lender_address(4), Some(0x90_0000 + 2 * PAGE));
    assert_eq!(file.pin_runs(), [(0, 4, 2), (4, 5, 1)]);
    w.write(&mut s, b.add(3 * PAGE), 9).unwrap();
    assert_eq!(w.read(&mut child, a.add(3 * PAGE)), Ok(9), "both see the one file page");
    w.check(&[&s, &child], &[]);
    let (_, first) = s.teardown(&mut w.frames);
    let (_, second) = child.teardown(&mut w.frames);
    let total: u64 = first.iter().chain(&second).map(|r| r.pages).sum();
    assert_eq!(total, 5, "each page handed back once: {first:?} {second:?}");
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn a_file_mapping_moves_within_itself_and_private_copies_move_along() {
    let fixed = RemapFlags::MAYMOVE | RemapFlags::FIXED;
    for shared in [true, false] {
        let (mut w, mut s, file, a) = mapped(0, 6, shared);
        w.write_pages(&mut s, a, 6, 30);
        // Pages 0..2 onto pages 3..5 of the same mapping, then page 4 (was
        // file page 1) onto page 0.
        assert_eq!(w.mremap(&mut s, a, 2 * PAGE, 2 * PAGE, fixed, a.add(3 * PAGE)), Ok(a.add(3 * PAGE)));
        assert_eq!(w.read(&mut s, a.add(4 * PAGE)), Ok(31));
        assert_eq!(w.read(&mut s, a.add(5 * PAGE)), Ok(35), "not replaced");
        assert_eq!(w.read(&mut s, a), Err(crate::FaultError::Segv));
        assert_eq!(w.mremap(&mut s, a.add(4 * PAGE), PAGE, PAGE, fixed, a), Ok(a));
        assert_eq!(w.read(&mut s, a), Ok(31));
        assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(32));
        if shared {
            assert_eq!(w.frames.tag(w.lent(file.id(), 1)), 31, "the file's page itself");
        }
        w.check(&[&s], &[]);
        let (_, releases) = s.teardown(&mut w.frames);
        // File pages 3 and 4 went when replaced; 0, 1, 2 and 5 are left.
        assert_eq!(releases.iter().map(|r| r.pages).sum::<u64>(), 4, "{releases:?}");
        assert_eq!(file.pinned_pages(), 0);
        w.drop_lender();
        assert_eq!(w.frames.live(), 0);
    }
}

#[test]
fn dontunmap_of_a_file_mapping_leaves_it_mapped_empty_and_pins_twice() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 3, false);
    let a = map(&mut w, &mut s, &file, RW).unwrap();
    for page in 0..3 {
        assert_eq!(w.read(&mut s, a.add(page * PAGE)), Ok(0));
    }
    w.write(&mut s, a.add(PAGE), 9).unwrap();
    let dontunmap = RemapFlags::MAYMOVE | RemapFlags::DONTUNMAP;
    let b = w.mremap(&mut s, a, 3 * PAGE, 3 * PAGE, dontunmap, va(0)).unwrap();
    assert_ne!(a, b);
    // The frames moved (the copy with them); the old range is empty but
    // still the file: it fetches the file's pages again.
    assert_eq!(w.read(&mut s, b.add(PAGE)), Ok(9));
    assert_eq!(s.resident_pages(), 3);
    w.frames.write(w.lent(file.id(), 1), 4);
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(4), "the old range shows the file, not the copy");
    assert_eq!(s.grant_count(), 2);
    assert_eq!(file.pin_runs(), [(0, 3, 2)], "both mappings pin the pages");
    // Each munmap hands back nothing until the last.
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| s.munmap(f, a, 3 * PAGE, t));
    result.unwrap();
    assert!(releases.is_empty());
    let (result, releases) = run_releasing(&mut w, &mut s, |s, f, t| s.munmap(f, b, 3 * PAGE, t));
    result.unwrap();
    assert_eq!(ranges(&releases), [(0, 3, false)]);
    w.check(&[&s], &[]);
    w.teardown(s);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}
