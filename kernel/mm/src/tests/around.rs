//! Fault-around of file mappings: one fault on a file page maps the
//! neighbours the lender already holds, within the aligned 16-page block,
//! the grant and the lease; never a page the lender lacks or has taken
//! back (past the end of the file: those stay SIGBUS); private pages
//! read-only (a write still copies), shared ones with the grant's rights;
//! pins, references and releases as if each page had been faulted alone;
//! a take back drops them all; a stale fetch is refused.

use std::sync::Arc;
use std::vec;
use std::vec::Vec;

use super::harness::*;
use crate::{
    Access, FAULT_AHEAD_PAGES, FAULT_AROUND_PAGES, FaultError, FileMap, FileRef, FrameStore, MapFlags, MapSource,
    MmapRequest, Shootdown,
};

fn lease(first_page: u64, pages: u64, shared: bool) -> FileRef {
    FileMap::new(first_page, pages, shared, true, 0x4000_0000, Arc::new(()))
}

/// Maps the whole lease at `addr` (fixed).
fn map_at(w: &mut World, space: &mut Space, file: &FileRef, addr: u64, prot: crate::Prot) -> rmm::VirtAddr {
    let flags = MapFlags::FIXED | if file.is_shared() { SHARED } else { PRIVATE };
    let request = MmapRequest::anonymous(file.pages() * PAGE, prot, flags)
        .source(MapSource::File { file: file.clone() })
        .at(va(addr));
    let mapped = w.mmap(space, &request).unwrap();
    assert_eq!(mapped, va(addr));
    mapped
}

/// The fake daemon holds file pages `[from, to)` of `file` already (its
/// page cache), each tagged with 1000 + its index.
fn hold(w: &mut World, file: &FileRef, from: u64, to: u64) {
    for index in from..to {
        let frame = w.frames.allocate_zeroed().unwrap();
        w.frames.write(frame, 1000 + index);
        w.lender.insert((file.id(), index), frame);
    }
}

/// Which pages of `[base, base + pages·4096)` have a PTE.
fn present(space: &Space, base: rmm::VirtAddr, pages: u64) -> Vec<u64> {
    (0..pages).filter(|&p| space.translate(base.add(p * PAGE)).is_some()).collect()
}

/// The end of every test: the spaces' invariants and references checked,
/// torn down, every pin of `files` and every frame back.
fn finish(mut w: World, spaces: Vec<Space>, files: &[&FileRef]) {
    w.check(&spaces.iter().collect::<Vec<_>>(), &[]);
    for space in spaces {
        w.teardown(space);
    }
    assert!(files.iter().all(|file| file.pinned_pages() == 0), "pins back to 0");
    w.drop_lender();
    assert_eq!(w.frames.live(), 0);
}

/// A world whose daemon holds all 16 pages of a lease (`shared` or not),
/// mapped read-write at [`BLOCK`].
fn held_block(shared: bool) -> (World, Space, FileRef, rmm::VirtAddr) {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 16, shared);
    hold(&mut w, &file, 0, 16);
    let a = map_at(&mut w, &mut s, &file, BLOCK, RW);
    (w, s, file, a)
}

/// A 16-page-aligned address in the test layout.
const BLOCK: u64 = 0x100_0000;

#[test]
fn one_fault_maps_the_aligned_block_within_the_mapping() {
    let mut w = World::new();
    let mut s = w.space();
    // 40 pages from 13 pages into a block: mapping page p is at page
    // 13 + p from BLOCK, so the blocks are pages [0, 3), [3, 19), [19, 35)
    // and [35, 40) of the mapping.
    let file = lease(0, 40, true);
    hold(&mut w, &file, 0, 40);
    let a = map_at(&mut w, &mut s, &file, BLOCK + 13 * PAGE, RW);
    assert_eq!(w.read(&mut s, a.add(20 * PAGE)), Ok(1020));
    assert_eq!(present(&s, a, 40), (19..35).collect::<Vec<_>>());
    assert_eq!(s.resident_pages(), FAULT_AROUND_PAGES);
    // The first block is clipped at the mapping's start (pages 0..3).
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(1001));
    assert_eq!(present(&s, a, 19), (0..3).collect::<Vec<_>>());
    // The last at its end (pages 35..40).
    assert_eq!(w.read(&mut s, a.add(39 * PAGE)), Ok(1039));
    assert_eq!(present(&s, a, 40).len(), 3 + 16 + 5);
    // Each page is the lender's frame, with one reference of ours.
    for p in present(&s, a, 40) {
        let lent = w.lent(file.id(), p);
        assert_eq!(s.translate(a.add(p * PAGE)).unwrap().0, lent);
        assert_eq!(w.frames.refcount_of(lent), 2);
    }
    finish(w, vec![s], &[&file]);
}

#[test]
fn the_window_stops_at_the_grant_the_lease_and_the_pages_not_lent() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 16, true);
    // The daemon has only the even pages in its cache.
    for index in (0..16).step_by(2) {
        hold(&mut w, &file, index, index + 1);
    }
    let a = map_at(&mut w, &mut s, &file, BLOCK, RW);
    // Two grants of one lease: pages 8.. read-only.
    w.mprotect(&mut s, a.add(8 * PAGE), 8 * PAGE, R).unwrap();
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(0), "page 3 was made by the fetch itself");
    assert_eq!(present(&s, a, 16), [0, 2, 3, 4, 6], "only what was lent, only in this grant");
    // The other grant gets its own window, with its own rights.
    assert_eq!(w.read(&mut s, a.add(9 * PAGE)), Ok(0));
    assert_eq!(present(&s, a, 16), [0, 2, 3, 4, 6, 8, 9, 10, 12, 14]);
    for p in [8, 10, 12, 14] {
        assert!(!s.translate(a.add(p * PAGE)).unwrap().1.is_writable(), "page {p} is in the read-only grant");
    }
    assert!(s.translate(a.add(2 * PAGE)).unwrap().1.is_writable());
    w.check(&[&s], &[]);

    // A lease that covers only part of the block: a mapping of file pages
    // 5..9 at an aligned address sees nothing of the lease's neighbours.
    let small = lease(5, 4, true);
    hold(&mut w, &small, 0, 20);
    let b = map_at(&mut w, &mut s, &small, BLOCK + 0x10_0000, RW);
    assert_eq!(w.read(&mut s, b.add(PAGE)), Ok(1006));
    assert_eq!(present(&s, b, 4), [0, 1, 2, 3]);
    assert_eq!(present(&s, b.add(4 * PAGE), 12), [] as [u64; 0]);
    assert_eq!(s.resident_pages(), 10 + 4);
    finish(w, vec![s], &[&file, &small]);
}

#[test]
fn nothing_is_mapped_past_the_end_of_the_file() {
    let mut w = World::new();
    let mut s = w.space();
    // A 16-page mapping of a 10-page file: the daemon keeps 10.. PROT_NONE.
    let file = lease(0, 16, false);
    hold(&mut w, &file, 0, 16);
    w.take_back(file.id(), 10, 16);
    let a = map_at(&mut w, &mut s, &file, BLOCK, RW);
    assert_eq!(w.read(&mut s, a.add(9 * PAGE)), Ok(1009));
    assert_eq!(present(&s, a, 16), (0..10).collect::<Vec<_>>());
    for p in 10..16 {
        assert_eq!(w.read(&mut s, a.add(p * PAGE)), Err(FaultError::Bus), "page {p} is past the end");
    }
    finish(w, vec![s], &[&file]);
}

#[test]
fn private_neighbours_are_read_only_and_copied_on_write() {
    let (mut w, mut s, file, a) = held_block(false);
    assert_eq!(w.read(&mut s, a), Ok(1000));
    assert_eq!(present(&s, a, 16).len(), 16);
    for p in 0..16 {
        let (frame, flags) = s.translate(a.add(p * PAGE)).unwrap();
        assert_eq!(frame, w.lent(file.id(), p));
        assert!(!flags.is_writable(), "page {p}: a private file page is read-only until written");
    }
    // A write to a neighbour copies it; the file keeps its page.
    w.write(&mut s, a.add(5 * PAGE), 77).unwrap();
    let lent = w.lent(file.id(), 5);
    assert_ne!(s.translate(a.add(5 * PAGE)).unwrap().0, lent);
    assert_eq!(w.frames.tag(lent), 1005);
    assert_eq!(w.frames.refcount_of(lent), 1, "only the daemon's reference is left");
    assert_eq!(w.read(&mut s, a.add(5 * PAGE)), Ok(77));
    // A fork shares the neighbours (and the copy) copy-on-write.
    let mut child = w.fork(&mut s).unwrap();
    assert_eq!(w.read(&mut child, a.add(6 * PAGE)), Ok(1006));
    w.write(&mut child, a.add(6 * PAGE), 5).unwrap();
    assert_eq!(w.read(&mut s, a.add(6 * PAGE)), Ok(1006));
    assert_eq!(w.frames.tag(w.lent(file.id(), 6)), 1006);
    finish(w, vec![s, child], &[&file]);
}

#[test]
fn shared_neighbours_write_through_and_are_written_back() {
    let (mut w, mut s, file, a) = held_block(true);
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(1001));
    for p in 0..16 {
        assert!(s.translate(a.add(p * PAGE)).unwrap().1.is_writable(), "page {p}: the grant's rights");
    }
    w.write(&mut s, a.add(7 * PAGE), 42).unwrap();
    assert_eq!(w.frames.tag(w.lent(file.id(), 7)), 42, "the write reaches the file's page");
    assert!(file.needs_sync(), "the hand-back writes back");
    let mut tlb = Shootdown::new();
    s.munmap(&mut w.frames, a, 16 * PAGE, &mut tlb).unwrap();
    s.table().flush(&tlb);
    let releases = tlb.finish(&mut w.frames);
    assert_eq!(releases.iter().map(|r| (r.first_page, r.pages, r.needs_sync)).collect::<Vec<_>>(), [(0, 16, true)]);
    assert_eq!(file.pinned_pages(), 0);
    // A read-only shared mapping gets read-only neighbours.
    let ro = lease(0, 16, true);
    hold(&mut w, &ro, 0, 16);
    let b = map_at(&mut w, &mut s, &ro, BLOCK, R);
    assert_eq!(w.read(&mut s, b), Ok(1000));
    assert!((0..16).all(|p| !s.translate(b.add(p * PAGE)).unwrap().1.is_writable()));
    assert_eq!(w.access(&mut s, b.add(3 * PAGE), Access::Write), Err(FaultError::Segv));
    finish(w, vec![s], &[&file, &ro]);
}

#[test]
fn a_take_back_drops_every_page_fault_around_mapped() {
    let (mut w, mut s, file, a) = held_block(true);
    assert_eq!(w.read(&mut s, a), Ok(1000));
    assert_eq!(s.resident_pages(), 16);
    // The daemon truncates to 2 pages.
    w.take_back(file.id(), 2, 16);
    file.invalidating();
    let dropped = w.run(&mut s, |s, f, t| s.drop_file_pages(f, &file, &[(2, 16)], t));
    assert_eq!(dropped, 14);
    assert_eq!(present(&s, a, 16), [0, 1]);
    assert_eq!(s.resident_pages(), 2);
    assert_eq!(w.read(&mut s, a.add(8 * PAGE)), Err(FaultError::Bus));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(1001));
    finish(w, vec![s], &[&file]);
}

#[test]
fn a_fetch_older_than_a_take_back_maps_nothing() {
    let (mut w, mut s, file, a) = held_block(true);
    let around = s.fault_around(a.add(4 * PAGE)).unwrap();
    assert_eq!((around.start.start(), around.first_index, around.pages), (a, 0, 16));
    let generation = file.generation();
    file.invalidating();
    assert_eq!(w.supply_around(&mut s, &around, generation), 0);
    assert_eq!(s.resident_pages(), 0);
    for index in 0..16 {
        assert_eq!(w.frames.refcount_of(w.lent(file.id(), index)), 1, "the fetched references are dropped");
    }
    // A page already supplied is skipped, not replaced (its reference dropped).
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(1001));
    assert_eq!(w.supply_around(&mut s, &around, file.generation()), 0);
    finish(w, vec![s], &[&file]);
}

#[test]
fn a_fault_continuing_a_run_maps_the_rest_of_its_leaf_table() {
    let mut w = World::new();
    let mut s = w.space();
    // 600 pages from a 512-page-aligned address (BLOCK is 16 MiB).
    let file = lease(0, 600, false);
    hold(&mut w, &file, 0, 600);
    let a = map_at(&mut w, &mut s, &file, BLOCK, R);
    assert_eq!(BLOCK % (FAULT_AHEAD_PAGES * PAGE), 0);
    assert_eq!(w.read(&mut s, a), Ok(1000));
    assert_eq!(s.resident_pages(), FAULT_AROUND_PAGES, "a first fault: its 16-page block");
    // Page 16 follows page 15: the rest of the leaf table.
    assert_eq!(w.read(&mut s, a.add(16 * PAGE)), Ok(1016));
    assert_eq!(present(&s, a, 600), (0..FAULT_AHEAD_PAGES).collect::<Vec<_>>());
    // The next table's first page follows page 511: clipped to the lease.
    assert_eq!(w.read(&mut s, a.add(512 * PAGE)), Ok(1512));
    assert_eq!(s.resident_pages(), 600);
    assert_eq!(w.read(&mut s, a.add(599 * PAGE)), Ok(1599));
    finish(w, vec![s], &[&file]);
}

#[test]
fn without_a_run_a_fault_maps_only_its_block() {
    let mut w = World::new();
    let mut s = w.space();
    let file = lease(0, 600, false);
    hold(&mut w, &file, 0, 600);
    let a = map_at(&mut w, &mut s, &file, BLOCK, R);
    // Every 32nd page: the page before is never mapped.
    for p in (40..600).step_by(32) {
        assert_eq!(w.read(&mut s, a.add(p * PAGE)), Ok(1000 + p));
    }
    let blocks = (40..600).step_by(32).count() as u64;
    assert_eq!(s.resident_pages(), blocks * FAULT_AROUND_PAGES);
    finish(w, vec![s], &[&file]);
}
