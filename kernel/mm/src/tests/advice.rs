//! MADV_FREE (lazy, reclaimed when frames run out), MADV_REMOVE (holes in
//! shared memory), MADV_GUARD_INSTALL / REMOVE (markers without a grant
//! split) and MADV_POPULATE_* validation.

use std::sync::Arc;

use rmm::PhysAddr;

use super::harness::*;
use crate::{
    Access, Advice, FaultError, FileMap, MapFlags, MapSource, MmError, MmapRequest, PhysKind, Prot, RemapFlags,
};

#[test]
fn free_keeps_pages_until_frames_run_out() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE);
    w.write_pages(&mut s, a, 3, 1);
    w.madvise(&mut s, a, 4 * PAGE, Advice::Free).unwrap();
    assert_eq!(s.freeable_pages(), 3, "the pages with a frame");
    assert_eq!((s.resident_pages(), w.frames.live()), (3, 3), "kept");
    assert_eq!(s.translate(a), None, "the PTEs went");
    // A read sees the old data, read-only: the mark stays.
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3));
    assert!(!s.translate(a.add(2 * PAGE)).unwrap().1.is_writable());
    // A write takes the mark off: the data stays.
    w.write(&mut s, a.add(PAGE), 20).unwrap();
    assert_eq!(s.freeable_pages(), 2);
    w.check(&[&s], &[]);
    // Frames run out: the next allocation reclaims the unmapped freeable
    // page (page 0) and succeeds; the read-mapped one (page 2) waits.
    w.plan.fail_in(0);
    w.write(&mut s, a.add(3 * PAGE), 4).unwrap();
    assert_eq!(w.plan.failures(), 1, "the allocation did fail once");
    w.plan.clear();
    assert_eq!(s.freeable_pages(), 1);
    assert_eq!(w.read(&mut s, a), Ok(0), "reclaimed: zero");
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(20), "written after the advice: kept");
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3), "mapped: not reclaimed without a flush");
    assert_eq!(w.frames.live(), 3);
    w.check(&[&s], &[]);
    // reclaim_freeable takes the mapped ones too, after a flush.
    assert_eq!(w.run(&mut s, |s, f, t| s.reclaim_freeable(f, t)), 1);
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(0));
    assert_eq!((s.freeable_pages(), w.frames.live()), (0, 2));
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn free_without_reclaimable_pages_still_fails_and_changes_nothing() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, PRIVATE);
    w.write(&mut s, a, 1).unwrap();
    w.madvise(&mut s, a, PAGE, Advice::Free).unwrap();
    w.read(&mut s, a).unwrap(); // mapped again: not reclaimable at once
    w.plan.fail_in(0);
    assert_eq!(w.fault(&mut s, a.add(PAGE), Access::Write), Err(FaultError::OutOfMemory));
    w.plan.clear();
    assert_eq!((s.freeable_pages(), w.read(&mut s, a)), (1, Ok(1)));
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn free_marks_survive_mprotect_and_fork_keeps_the_data() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, PRIVATE);
    w.write(&mut s, a, 1).unwrap();
    w.write(&mut s, a.add(PAGE), 2).unwrap();
    w.madvise(&mut s, a, 2 * PAGE, Advice::Free).unwrap();
    w.read(&mut s, a).unwrap();
    // mprotect back to RW must not make a marked page writable: its next
    // write still has to fault and take the mark off.
    w.mprotect(&mut s, a, 2 * PAGE, R).unwrap();
    w.mprotect(&mut s, a, 2 * PAGE, RW).unwrap();
    assert!(!s.translate(a).unwrap().1.is_writable());
    w.check(&[&s], &[]);
    let mut child = w.fork(&mut s).unwrap();
    assert_eq!(child.freeable_pages(), 0, "the child's copy is plain data");
    assert_eq!(w.run(&mut s, |s, f, t| s.reclaim_freeable(f, t)), 2);
    assert_eq!((w.read(&mut s, a), w.read(&mut s, a.add(PAGE))), (Ok(0), Ok(0)));
    assert_eq!((w.read(&mut child, a), w.read(&mut child, a.add(PAGE))), (Ok(1), Ok(2)));
    w.check(&[&s, &child], &[]);
    // munmap and DONTNEED drop marks with the frames.
    w.write(&mut child, a, 5).unwrap();
    w.madvise(&mut child, a, 2 * PAGE, Advice::Free).unwrap();
    assert_eq!(child.freeable_pages(), 2);
    w.madvise(&mut child, a, PAGE, Advice::DontNeed).unwrap();
    w.munmap(&mut child, a.add(PAGE), PAGE).unwrap();
    assert_eq!(child.freeable_pages(), 0);
    w.check(&[&s, &child], &[]);
    w.teardown(child);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn free_and_remove_refusals() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 1, RW, PRIVATE);
    let b = w.anon(&mut s, 1, RW, SHARED);
    let device = MapSource::Physical { phys: PhysAddr::new(0xFE00_0000), kind: PhysKind::Uncached };
    let d = w.mmap(&mut s, &MmapRequest::anonymous(PAGE, RW, SHARED).source(device)).unwrap();
    assert_eq!(w.madvise(&mut s, b, PAGE, Advice::Free), Err(MmError::Inval), "shared memory");
    assert_eq!(w.madvise(&mut s, a, PAGE, Advice::Remove), Err(MmError::Inval), "private anonymous");
    for advice in [Advice::Remove, Advice::GuardInstall, Advice::PopulateRead, Advice::PopulateWrite] {
        assert_eq!(w.madvise(&mut s, d, PAGE, advice), Err(MmError::Inval), "{advice:?} on device memory");
    }
    let private_file = FileMap::new(0, 1, false, true, 0, Arc::new(()));
    let shared_file = FileMap::new(0, 1, true, true, 0, Arc::new(()));
    let read_only_file = FileMap::new(0, 1, true, false, 0, Arc::new(()));
    let mut file_at = |w: &mut World, file: &crate::FileRef, flags: MapFlags| {
        let request = MmapRequest::anonymous(PAGE, R, flags).source(MapSource::File { file: file.clone() });
        w.mmap(&mut s, &request).unwrap()
    };
    let (p, f, r) = (
        file_at(&mut w, &private_file, PRIVATE),
        file_at(&mut w, &shared_file, SHARED),
        file_at(&mut w, &read_only_file, SHARED),
    );
    assert_eq!(w.madvise(&mut s, p, PAGE, Advice::Remove), Err(MmError::Access), "private file");
    assert_eq!(w.madvise(&mut s, r, PAGE, Advice::Remove), Err(MmError::Access), "read-only file");
    w.madvise(&mut s, f, PAGE, Advice::Remove).expect("the kernel asks the scheme to punch the hole");
    assert_eq!(w.madvise(&mut s, f, PAGE, Advice::Free), Err(MmError::Inval), "file");
    w.check(&[&s], &[]);
    w.teardown(s);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn remove_punches_a_hole_every_mapping_sees() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 3, RW, SHARED);
    w.write_pages(&mut s, a, 3, 1);
    let mut child = w.fork(&mut s).unwrap();
    assert_eq!(w.read(&mut child, a.add(2 * PAGE)), Ok(3));
    w.madvise(&mut child, a, PAGE, Advice::DontNeed).unwrap();
    let before = w.frames.live();
    // Page 0: mapped by the parent only (the child let go of it) →
    // freed. Page 2: mapped by the child too → zeroed in place.
    w.madvise(&mut s, a, PAGE, Advice::Remove).unwrap();
    assert_eq!(w.frames.live(), before - 1, "freed");
    w.madvise(&mut s, a.add(2 * PAGE), PAGE, Advice::Remove).unwrap();
    assert_eq!(w.frames.live(), before - 1, "still mapped by the child: zeroed, not freed");
    for space in [&mut s, &mut child] {
        assert_eq!(w.read(space, a), Ok(0));
        assert_eq!(w.read(space, a.add(PAGE)), Ok(2));
        assert_eq!(w.read(space, a.add(2 * PAGE)), Ok(0));
    }
    w.write(&mut child, a, 9).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(9), "the hole filled again, shared");
    w.check(&[&s, &child], &[]);
    w.teardown(child);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn guard_markers_fault_without_splitting_the_grant() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE);
    w.write_pages(&mut s, a, 4, 1);
    w.madvise(&mut s, a.add(PAGE), 2 * PAGE, Advice::GuardInstall).unwrap();
    assert_eq!(s.grant_count(), 1, "one grant");
    assert_eq!((s.guard_pages(), w.frames.live()), (2, 2), "the guarded pages' frames went");
    assert_eq!(w.read(&mut s, a.add(PAGE)), Err(FaultError::Segv));
    assert_eq!(w.write(&mut s, a.add(2 * PAGE), 7), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(4));
    // POPULATE_READ validates (the kernel faults; a marker is EFAULT there).
    w.madvise(&mut s, a, 4 * PAGE, Advice::PopulateRead).unwrap();
    // DONTNEED and mprotect keep the markers.
    w.madvise(&mut s, a, 4 * PAGE, Advice::DontNeed).unwrap();
    w.mprotect(&mut s, a, 4 * PAGE, R).unwrap();
    w.mprotect(&mut s, a, 4 * PAGE, RW).unwrap();
    assert_eq!((s.grant_count(), s.guard_pages()), (1, 2));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Err(FaultError::Segv));
    // fork copies them.
    let mut child = w.fork(&mut s).unwrap();
    assert_eq!(w.read(&mut child, a.add(2 * PAGE)), Err(FaultError::Segv));
    w.teardown(child);
    // mremap's move carries them; the old place has none left.
    let b = w.mremap(&mut s, a, 4 * PAGE, 8 * PAGE, RemapFlags::MAYMOVE | RemapFlags::FIXED, va(0x80_0000)).unwrap();
    assert_eq!(w.read(&mut s, b.add(PAGE)), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, b.add(5 * PAGE)), Ok(0));
    assert_eq!(s.guard_pages(), 2);
    w.check(&[&s], &[]);
    // REMOVE: the page reads zero again.
    w.madvise(&mut s, b, 8 * PAGE, Advice::GuardRemove).unwrap();
    assert_eq!((w.read(&mut s, b.add(PAGE)), s.guard_pages()), (Ok(0), 0));
    // munmap drops them.
    w.madvise(&mut s, b.add(6 * PAGE), PAGE, Advice::GuardInstall).unwrap();
    w.munmap(&mut s, b, 8 * PAGE).unwrap();
    assert_eq!(s.guard_pages(), 0);
    let c = w.anon_at(&mut s, b.get(), 8, RW, PRIVATE | MapFlags::FIXED).unwrap();
    assert_eq!(w.read(&mut s, c.add(6 * PAGE)), Ok(0), "a new mapping there has no marker");
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn guard_markers_on_shared_and_file_memory() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, SHARED);
    w.write(&mut s, a, 5).unwrap();
    w.madvise(&mut s, a, PAGE, Advice::GuardInstall).unwrap();
    assert_eq!(w.read(&mut s, a), Err(FaultError::Segv));
    w.madvise(&mut s, a, PAGE, Advice::GuardRemove).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(5), "a shared page keeps its data");
    let file = FileMap::new(0, 2, false, true, 0, Arc::new(()));
    let request = MmapRequest::anonymous(2 * PAGE, RW, PRIVATE).source(MapSource::File { file: file.clone() });
    let f = w.mmap(&mut s, &request).unwrap();
    w.write(&mut s, f, 8).unwrap();
    w.madvise(&mut s, f, PAGE, Advice::GuardInstall).unwrap();
    assert_eq!(w.read(&mut s, f), Err(FaultError::Segv));
    assert!(s.file_page_wanted(f).is_none(), "nothing is fetched for a guard page");
    w.madvise(&mut s, f, PAGE, Advice::GuardRemove).unwrap();
    assert_eq!(w.read(&mut s, f), Ok(0), "the private copy went: the file's page again");
    w.check(&[&s], &[]);
    w.teardown(s);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn a_failed_mmap_fixed_over_guards_keeps_them() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE);
    w.madvise(&mut s, a, 4 * PAGE, Advice::GuardInstall).unwrap();
    w.plan.fail_in(0);
    let request = MmapRequest::anonymous(2 * PAGE, RW, PRIVATE | MapFlags::FIXED | MapFlags::POPULATE).at(a);
    assert_eq!(w.mmap(&mut s, &request), Err(MmError::NoMem));
    w.plan.clear();
    assert_eq!(s.guard_pages(), 4, "rolled back");
    assert_eq!(w.read(&mut s, a), Err(FaultError::Segv));
    w.mmap(&mut s, &request).unwrap();
    assert_eq!((s.guard_pages(), w.read(&mut s, a)), (2, Ok(0)));
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn populate_validation() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, R, PRIVATE);
    let n = w.anon(&mut s, 1, Prot::NONE, PRIVATE);
    w.madvise(&mut s, a, 2 * PAGE, Advice::PopulateRead).unwrap();
    assert_eq!(w.madvise(&mut s, a, PAGE, Advice::PopulateWrite), Err(MmError::Inval), "read-only");
    assert_eq!(w.madvise(&mut s, n, PAGE, Advice::PopulateRead), Err(MmError::Inval), "PROT_NONE");
    w.munmap(&mut s, a.add(PAGE), PAGE).unwrap();
    assert_eq!(w.madvise(&mut s, a, 2 * PAGE, Advice::PopulateRead), Err(MmError::NoMem), "a hole");
    assert_eq!(Advice::PopulateWrite.populate(), Some(true));
    assert_eq!(Advice::WillNeed.populate(), None);
    w.teardown(s);
}

#[test]
fn populate_faults_each_page_in_order_and_stops_at_the_first_failure() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 6, RW, PRIVATE);
    let first = crate::Page::containing(a);
    // Page 1 already written (raised by the pass: nothing to do), page 4
    // a guard marker: the pass stops there with SIGSEGV's error.
    w.write(&mut s, a.add(PAGE), 9).unwrap();
    w.madvise(&mut s, a.add(4 * PAGE), PAGE, Advice::GuardInstall).unwrap();
    let result = w.run(&mut s, |s, f, t| s.populate(f, first, 6, Access::Write, t));
    assert_eq!(result, Err((4, FaultError::Segv)), "four pages done, the fifth refused");
    for i in 0..4 {
        let (_, flags) = s.translate(a.add(i * PAGE)).expect("populated");
        assert!(flags.is_writable(), "page {i} mapped for writing");
    }
    assert_eq!(s.translate(a.add(5 * PAGE)), None, "nothing after the failing page");
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(9), "the written page kept its data");
    assert_eq!((s.resident_pages(), w.frames.live()), (4, 4));
    w.check(&[&s], &[]);

    // Copy-on-write pages are copied; a second pass changes nothing.
    let mut child = w.fork(&mut s).unwrap();
    w.run(&mut s, |s, f, t| s.populate(f, first, 4, Access::Write, t)).unwrap();
    assert_eq!(w.frames.live(), 8, "four copies, the child keeps the originals");
    w.run(&mut s, |s, f, t| s.populate(f, first, 4, Access::Write, t)).unwrap();
    assert_eq!(w.frames.live(), 8);
    assert_eq!(w.read(&mut child, a.add(PAGE)), Ok(9));
    w.check(&[&s, &child], &[]);

    // Written pages made read-only and writable again keep read-only PTEs
    // (mprotect adds rights lazily): the pass raises them in place, except
    // a page marked freeable (read since, so present), whose write fault
    // takes the mark off.
    let b = w.anon(&mut s, 8, RW, PRIVATE);
    for i in 0..8 {
        w.write(&mut s, b.add(i * PAGE), 20 + i).unwrap();
    }
    w.mprotect(&mut s, b, 8 * PAGE, R).unwrap();
    w.mprotect(&mut s, b, 8 * PAGE, RW).unwrap();
    w.madvise(&mut s, b.add(5 * PAGE), PAGE, Advice::Free).unwrap();
    assert_eq!(w.read(&mut s, b.add(5 * PAGE)), Ok(25), "mapped read-only again, still marked");
    let live = w.frames.live();
    w.run(&mut s, |s, f, t| s.populate(f, crate::Page::containing(b), 8, Access::Write, t)).unwrap();
    for i in 0..8 {
        assert!(s.translate(b.add(i * PAGE)).unwrap().1.is_writable(), "page {i} raised");
        assert_eq!(w.read(&mut s, b.add(i * PAGE)), Ok(20 + i), "page {i} kept its frame");
    }
    assert_eq!((w.frames.live(), s.freeable_pages()), (live, 0), "no frame allocated, the mark gone");
    w.check(&[&s, &child], &[]);

    // A page waiting for its lender stops the pass, to be fetched.
    let file = FileMap::new(0, 3, true, true, 0, Arc::new(()));
    let request = MmapRequest::anonymous(3 * PAGE, RW, MapFlags::SHARED).source(MapSource::File { file: file.clone() });
    let f = w.mmap(&mut s, &request).unwrap();
    let result = w.run(&mut s, |s, fr, t| s.populate(fr, crate::Page::containing(f), 3, Access::Read, t));
    assert_eq!(result, Err((0, FaultError::FilePage)));
    w.teardown(child);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}
