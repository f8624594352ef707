//! Taking lent pages back: a truncate drops every mapping of the gone
//! pages in every space (shared, private not copied, private copies), with
//! the TLB flushed, grants and pins left as they were; a fetch that began
//! before is refused; MS_INVALIDATE drops what shows the file's frame and
//! keeps private copies; an eviction drops what shows the lender's frames
//! and keeps private copies; `lent_from` finds a lease's pages by lender
//! address.

use std::sync::Arc;

use super::harness::*;
use crate::{Access, FaultError, FileMap, FileRef, FrameStore, MapSource, MmapRequest, Shootdown};

fn lease(first_page: u64, pages: u64, shared: bool) -> FileRef {
    FileMap::new(first_page, pages, shared, true, 0x4000_0000, Arc::new(()))
}

fn map(w: &mut World, space: &mut Space, file: &FileRef) -> rmm::VirtAddr {
    let flags = if file.is_shared() { SHARED } else { PRIVATE };
    let request = MmapRequest::anonymous(file.pages() * PAGE, RW, flags).source(MapSource::File { file: file.clone() });
    w.mmap(space, &request).unwrap()
}

/// What the kernel does when the lender takes back file pages `runs`:
/// the lease's generation first, then every space.
fn take_back(w: &mut World, spaces: &mut [&mut Space], file: &FileRef, runs: &[(u64, u64)]) -> u64 {
    file.invalidating();
    let mut dropped = 0;
    for space in spaces.iter_mut() {
        dropped += w.run(space, |s, f, t| s.drop_file_pages(f, file, runs, t));
    }
    dropped
}

#[test]
fn a_truncate_drops_the_gone_pages_from_every_space_private_copies_too() {
    let mut w = World::new();
    let (mut a, mut b) = (w.space(), w.space());
    let shared = lease(0, 4, true);
    let private = lease(0, 4, false);
    let sa = map(&mut w, &mut a, &shared);
    let pb = map(&mut w, &mut b, &private);
    for page in 0..4 {
        w.write(&mut a, sa.add(page * PAGE), 10 + page).unwrap();
        assert_eq!(w.read(&mut b, pb.add(page * PAGE)), Ok(0));
    }
    // A private copy of page 3, and a fork that shares the shared pages.
    w.write(&mut b, pb.add(3 * PAGE), 99).unwrap();
    let mut child = w.fork(&mut a).unwrap();
    assert_eq!(w.read(&mut child, sa.add(2 * PAGE)), Ok(12));
    let pins_before = (shared.pin_runs(), private.pin_runs());

    // The daemon shrinks both files to one page: its frames of pages 1..4
    // go first (unfetchable), then the kernel drops them everywhere.
    w.take_back(shared.id(), 1, 4);
    w.take_back(private.id(), 1, 4);
    assert_eq!(take_back(&mut w, &mut [&mut a, &mut child], &shared, &[(1, 4)]), 3 + 3);
    assert_eq!(take_back(&mut w, &mut [&mut b], &private, &[(1, 4)]), 3);

    // Past the new end: SIGBUS everywhere, the copy included; a stale TLB
    // entry would have let these through.
    for page in 1..4 {
        assert_eq!(w.read(&mut a, sa.add(page * PAGE)), Err(FaultError::Bus));
        assert_eq!(w.read(&mut child, sa.add(page * PAGE)), Err(FaultError::Bus));
        assert_eq!(w.read(&mut b, pb.add(page * PAGE)), Err(FaultError::Bus));
    }
    // Before it: untouched.
    assert_eq!(w.read(&mut a, sa), Ok(10));
    assert_eq!(w.read(&mut child, sa), Ok(10));
    assert_eq!(w.read(&mut b, pb), Ok(0));
    // The mappings are still there, one grant each, pins unchanged.
    assert_eq!((a.grant_count(), b.grant_count(), child.grant_count()), (1, 1, 1));
    assert_eq!((shared.pin_runs(), private.pin_runs()), pins_before);
    w.check(&[&a, &b, &child], &[]);
    for space in [a, b, child] {
        w.teardown(space);
    }
    w.drop_lender();
    assert_eq!(w.frames.live(), 0, "every frame back");
}

#[test]
fn only_the_named_lease_and_pages_are_dropped() {
    let mut w = World::new();
    let mut a = w.space();
    let one = lease(0, 4, true);
    let other = lease(0, 4, true);
    let (x, y) = (map(&mut w, &mut a, &one), map(&mut w, &mut a, &other));
    for page in 0..4 {
        w.write(&mut a, x.add(page * PAGE), 1).unwrap();
        w.write(&mut a, y.add(page * PAGE), 2).unwrap();
    }
    // A hole: page 2 of `one` only.
    w.take_back(one.id(), 2, 3);
    assert_eq!(take_back(&mut w, &mut [&mut a], &one, &[(2, 3)]), 1);
    assert_eq!(a.resident_pages(), 7);
    assert_eq!(w.read(&mut a, x.add(2 * PAGE)), Err(FaultError::Bus));
    assert_eq!(w.read(&mut a, x.add(3 * PAGE)), Ok(1));
    assert_eq!(w.read(&mut a, y.add(2 * PAGE)), Ok(2));
    // Pages nobody maps, or past the lease: nothing to do.
    assert_eq!(take_back(&mut w, &mut [&mut a], &one, &[(9, 20)]), 0);
    w.check(&[&a], &[]);
    w.teardown(a);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn a_page_fetched_before_the_pages_were_taken_back_is_not_handed_in() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 2, true);
    let a = map(&mut w, &mut s, &file);
    let mut tlb = Shootdown::new();
    assert_eq!(s.fault(&mut w.frames, a, Access::Read, &mut tlb), Err(FaultError::FilePage));
    let _ = tlb.finish(&mut w.frames);
    // The kernel read the generation and fetched the old frame ...
    let (wanted, index) = s.file_page_wanted(a).unwrap();
    let generation = wanted.generation();
    let old = w.frames.allocate_zeroed().unwrap();
    // ... while the lender took the page back.
    file.invalidating();
    assert!(!s.supply_file_page(&mut w.frames, a, &wanted, index, generation, old));
    assert!(!w.frames.is_live(old), "the stale frame's reference was dropped");
    assert_eq!(s.resident_pages(), 0);
    // A fetch after it is handed in.
    w.take_back(file.id(), 0, 1);
    assert_eq!(w.read(&mut s, a), Err(FaultError::Bus));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(0));
    w.check(&[&s], &[]);
    w.teardown(s);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn ms_invalidate_refetches_file_frames_and_keeps_private_copies() {
    let mut w = World::new();
    let (mut s, mut t) = (w.space(), w.space());
    let private = lease(0, 3, false);
    let shared = lease(0, 2, true);
    let p = map(&mut w, &mut s, &private);
    let q = map(&mut w, &mut t, &shared);
    for page in 0..3 {
        assert_eq!(w.read(&mut s, p.add(page * PAGE)), Ok(0));
    }
    w.write(&mut s, p.add(PAGE), 5).unwrap();
    w.write(&mut t, q, 6).unwrap();
    let lender = w.lender.clone();
    let is_file_frame = |file: &FileRef, index: u64, frame| lender.get(&(file.id(), index)) == Some(&frame);
    let dropped = w.run(&mut s, |s, f, tl| s.invalidate_file_frames(f, p, 3 * PAGE, is_file_frame, tl));
    assert_eq!(dropped, Ok(2), "pages 0 and 2 showed the file's frames; page 1 is a copy");
    assert_eq!(s.resident_pages(), 1);
    // The file changed meanwhile: refetched pages show it, the copy stays.
    w.frames.write(w.lent(private.id(), 0), 7);
    assert_eq!(w.read(&mut s, p), Ok(7));
    assert_eq!(w.read(&mut s, p.add(PAGE)), Ok(5));
    // Shared: every page is the file's.
    let dropped = w.run(&mut t, |s, f, tl| s.invalidate_file_frames(f, q, 2 * PAGE, |_, _, _| false, tl));
    assert_eq!(dropped, Ok(1));
    assert_eq!(w.read(&mut t, q), Ok(6), "written data is the file's: fetched again");
    // As msync: unmapped pages are ENOMEM, a misaligned start EINVAL.
    assert_eq!(
        w.run(&mut t, |s, f, tl| s.invalidate_file_frames(f, q, 3 * PAGE, |_, _, _| true, tl)),
        Err(crate::MmError::NoMem)
    );
    assert_eq!(
        w.run(&mut t, |s, f, tl| s.invalidate_file_frames(f, q.add(1), PAGE, |_, _, _| true, tl)),
        Err(crate::MmError::Inval)
    );
    w.check(&[&s, &t], &[]);
    w.teardown(s);
    w.teardown(t);
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn lent_from_names_the_file_pages_behind_lender_addresses() {
    let file = FileMap::new(10, 4, true, true, 0x10_0000, Arc::new(()));
    assert_eq!(file.lent_from(0x10_1000, 0x10_3000), [(11, 13)]);
    assert_eq!(file.lent_from(0, u64::MAX), [(10, 14)]);
    assert_eq!(file.lent_from(0x10_4000, 0x20_0000), []);
    assert_eq!(file.lent_from(0, 0x10_0000), []);
}

#[test]
fn an_eviction_drops_the_lenders_frames_and_keeps_private_copies() {
    let mut w = World::new();
    let (mut a, mut b) = (w.space(), w.space());
    let shared = lease(0, 3, true);
    let private = lease(0, 3, false);
    let sa = map(&mut w, &mut a, &shared);
    let pb = map(&mut w, &mut b, &private);
    for page in 0..3 {
        w.write(&mut a, sa.add(page * PAGE), 20 + page).unwrap();
        assert_eq!(w.read(&mut b, pb.add(page * PAGE)), Ok(0));
    }
    // A private copy of page 1, and a fork that shares the shared pages.
    w.write(&mut b, pb.add(PAGE), 77).unwrap();
    let mut child = w.fork(&mut a).unwrap();
    assert_eq!(w.read(&mut child, sa), Ok(20));
    let pins_before = (shared.pin_runs(), private.pin_runs());

    // The lender's cache evicts file pages 0 and 1 of both leases (its
    // frames stay: it lends them again when asked).
    let lender = w.lender.clone();
    let evict = |w: &mut World, space: &mut Space, file: &FileRef| {
        file.invalidating();
        let is_lenders = |index, frame| lender.get(&(file.id(), index)) == Some(&frame);
        w.run(space, |s, f, t| s.evict_file_pages(f, file, &[(0, 2)], is_lenders, t))
    };
    assert_eq!(evict(&mut w, &mut a, &shared), 2);
    assert!(evict(&mut w, &mut child, &shared) >= 1);
    assert_eq!(evict(&mut w, &mut b, &private), 1, "page 0 showed the lender's frame; page 1 is a copy");
    assert_eq!((a.resident_pages(), b.resident_pages()), (1, 2));

    // The next touch fetches again and finds the data; the copy stayed.
    assert_eq!(w.read(&mut a, sa), Ok(20));
    assert_eq!(w.read(&mut child, sa.add(PAGE)), Ok(21));
    assert_eq!(w.read(&mut b, pb), Ok(0));
    assert_eq!(w.read(&mut b, pb.add(PAGE)), Ok(77));
    // Page 2, outside the runs, was never dropped.
    assert_eq!(w.read(&mut a, sa.add(2 * PAGE)), Ok(22));
    assert_eq!((shared.pin_runs(), private.pin_runs()), pins_before, "pins unchanged");
    w.check(&[&a, &b, &child], &[]);
    for space in [a, b, child] {
        w.teardown(space);
    }
    w.drop_lender();
    assert_eq!(w.frames.live(), 0, "every frame back");
}
