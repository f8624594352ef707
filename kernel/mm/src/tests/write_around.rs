//! Write-around: a write fault that continues a run of written private
//! anonymous pages makes the rest of its 32-page block writable — zeroed
//! pages for untouched ones, private copies of pages shared copy-on-write
//! after fork (their old PTEs flushed), writable PTEs for pages already
//! only ours — and nothing else: not without a run, not past the grant,
//! never a guard, freeable or read-only-zero page; a lack of frames only
//! stops it.

use std::vec::Vec;

use super::harness::*;
use crate::{Advice, Prot, WRITE_AROUND_PAGES as BLOCK_PAGES};

fn world() -> (World, Space) {
    let w = World::new();
    let mut config = World::config();
    config.write_around = true;
    let s = w.space_with(config);
    (w, s)
}

/// The pages of `[base, base + pages·4096)` mapped writable.
fn writable(space: &Space, base: rmm::VirtAddr, pages: u64) -> Vec<u64> {
    (0..pages).filter(|&p| space.translate(base.add(p * PAGE)).is_some_and(|(_, f)| f.is_writable())).collect()
}

/// A block-aligned address in the test layout.
const BLOCK: u64 = 0x100_0000;

fn finish(mut w: World, spaces: Vec<Space>) {
    w.check(&spaces.iter().collect::<Vec<_>>(), &[]);
    for space in spaces {
        w.teardown(space);
    }
    assert_eq!(w.frames.live(), 0, "every frame back");
}

#[test]
fn a_run_of_writes_fills_the_rest_of_each_block_within_the_grant() {
    let (mut w, mut s) = world();
    const B: u64 = BLOCK_PAGES;
    assert_eq!(B, 32);
    // Two blocks and 8 pages: blocks [0, B), [B, 2B), [2B, 2B + 8) of the
    // mapping.
    let len = 2 * B + 8;
    let a = w.anon_at(&mut s, BLOCK, len, RW, PRIVATE).unwrap();
    w.write(&mut s, a, 1).unwrap();
    assert_eq!(writable(&s, a, len), [0], "one write is one page: no run yet");
    w.write(&mut s, a.add(PAGE), 2).unwrap();
    assert_eq!(writable(&s, a, len), (0..B).collect::<Vec<_>>(), "the run fills its block");
    assert_eq!((s.resident_pages(), w.frames.live()), (B, B as usize));
    for p in 2..B {
        assert_eq!(w.read(&mut s, a.add(p * PAGE)), Ok(0), "a filled page reads as zero");
    }
    // Writes inside the block fault no more; the next block's first write
    // continues the run.
    w.write(&mut s, a.add(B * PAGE), 3).unwrap();
    assert_eq!(writable(&s, a, len), (0..2 * B).collect::<Vec<_>>());
    w.write(&mut s, a.add(2 * B * PAGE), 4).unwrap();
    assert_eq!(writable(&s, a, len), (0..len).collect::<Vec<_>>(), "clipped to the grant's end");
    assert_eq!(s.resident_pages(), len);
    // The next grant (a different mapping) is not touched.
    let b = w.anon_at(&mut s, BLOCK + len * PAGE, 8, RW, PRIVATE).unwrap();
    assert_eq!(writable(&s, b, 8), Vec::<u64>::new());
    assert_eq!(w.read(&mut s, a), Ok(1));
    assert_eq!(w.read(&mut s, a.add(B * PAGE)), Ok(3));
    finish(w, vec![s]);
}

#[test]
fn no_run_no_fill_and_the_first_page_of_a_grant_starts_none() {
    let (mut w, mut s) = world();
    let a = w.anon_at(&mut s, BLOCK, 32, RW, PRIVATE).unwrap();
    // Every other page: no write continues a run.
    for p in (0..32).step_by(2) {
        w.write(&mut s, a.add(p * PAGE), p).unwrap();
    }
    assert_eq!(writable(&s, a, 32), (0..32).step_by(2).collect::<Vec<_>>());
    assert_eq!(s.resident_pages(), 16);
    // A written page of the mapping below does not make a run either.
    let (mut w2, mut s2) = world();
    let below = w2.anon_at(&mut s2, BLOCK, 1, RW, PRIVATE).unwrap();
    let c = w2.anon_at(&mut s2, BLOCK + PAGE, 15, RW, PRIVATE).unwrap();
    w2.write(&mut s2, below, 1).unwrap();
    // Read-only now: a grant of its own (equal neighbours merge).
    w2.mprotect(&mut s2, below, PAGE, Prot::READ).unwrap();
    w2.write(&mut s2, c, 2).unwrap();
    assert_eq!(writable(&s2, c, 15), [0], "page - 1 is another grant's");
    finish(w, vec![s]);
    finish(w2, vec![s2]);
}

#[test]
fn guards_freeable_and_zero_read_pages_are_left_to_their_own_faults() {
    let (mut w, mut s) = world();
    let a = w.anon_at(&mut s, BLOCK, 16, RW, PRIVATE).unwrap();
    w.write(&mut s, a.add(9 * PAGE), 9).unwrap();
    w.madvise(&mut s, a.add(9 * PAGE), PAGE, Advice::Free).unwrap();
    w.madvise(&mut s, a.add(7 * PAGE), PAGE, Advice::GuardInstall).unwrap();
    assert_eq!(w.read(&mut s, a.add(5 * PAGE)), Ok(0)); // the zero frame
    w.write(&mut s, a, 1).unwrap();
    w.write(&mut s, a.add(PAGE), 2).unwrap();
    let expect: Vec<u64> = (0..16).filter(|p| ![5, 7, 9].contains(p)).collect();
    assert_eq!(writable(&s, a, 16), expect);
    assert_eq!(s.freeable_pages(), 1, "the freeable page keeps its mark");
    assert!(w.read(&mut s, a.add(7 * PAGE)).is_err(), "the guard still faults");
    assert_eq!(w.read(&mut s, a.add(9 * PAGE)), Ok(9));
    w.write(&mut s, a.add(5 * PAGE), 5).unwrap();
    assert_eq!(w.read(&mut s, a.add(5 * PAGE)), Ok(5));
    finish(w, vec![s]);
}

#[test]
fn after_fork_a_run_copies_the_block_and_flushes_the_old_entries() {
    let (mut w, mut parent) = world();
    let a = w.anon_at(&mut parent, BLOCK, 16, RW, PRIVATE).unwrap();
    for p in 0..16 {
        w.write(&mut parent, a.add(p * PAGE), 100 + p).unwrap();
    }
    let mut child = w.fork(&mut parent).unwrap();
    // The child reads every page: its TLB caches the shared frames.
    for p in 0..16 {
        assert_eq!(w.read(&mut child, a.add(p * PAGE)), Ok(100 + p));
    }
    w.write(&mut child, a, 0).unwrap();
    assert_eq!(writable(&child, a, 16), [0]);
    w.write(&mut child, a.add(PAGE), 1).unwrap();
    assert_eq!(writable(&child, a, 16), (0..16).collect::<Vec<_>>(), "copied");
    for p in 0..16 {
        let (pf, cf) = (parent.translate(a.add(p * PAGE)).unwrap().0, child.translate(a.add(p * PAGE)).unwrap().0);
        assert_ne!(pf, cf, "page {p}: the child has its own frame");
        assert_eq!(w.frames.refcount_of(pf), 1);
    }
    // The parent writes: a stale TLB entry in the child would show it.
    for p in 2..16 {
        w.write(&mut parent, a.add(p * PAGE), 200 + p).unwrap();
        assert_eq!(w.read(&mut child, a.add(p * PAGE)), Ok(100 + p), "page {p}: the child keeps its copy");
    }
    finish(w, vec![parent, child]);
}

#[test]
fn pages_left_only_ours_after_fork_are_made_writable_without_a_copy() {
    let (mut w, mut parent) = world();
    let a = w.anon_at(&mut parent, BLOCK, 16, RW, PRIVATE).unwrap();
    for p in 0..16 {
        w.write(&mut parent, a.add(p * PAGE), p).unwrap();
    }
    let child = w.fork(&mut parent).unwrap();
    w.teardown(child);
    let before: Vec<_> = (0..16).map(|p| parent.translate(a.add(p * PAGE)).unwrap().0).collect();
    assert_eq!(writable(&parent, a, 16), Vec::<u64>::new(), "write-protected by the fork");
    w.write(&mut parent, a, 50).unwrap();
    w.write(&mut parent, a.add(PAGE), 51).unwrap();
    assert_eq!(writable(&parent, a, 16), (0..16).collect::<Vec<_>>());
    let after: Vec<_> = (0..16).map(|p| parent.translate(a.add(p * PAGE)).unwrap().0).collect();
    assert_eq!(before, after, "no copies");
    assert_eq!(w.frames.live(), 16);
    finish(w, vec![parent]);
}

#[test]
fn a_block_mixing_shared_own_untouched_and_zero_read_pages_gets_each_its_own_treatment() {
    let (mut w, mut parent) = world();
    let a = w.anon_at(&mut parent, BLOCK, 16, RW, PRIVATE).unwrap();
    // Written before the fork (downwards: no run, no write-around): 0-11;
    // 12-13 never touched; 14-15 only read (the zero frame).
    for p in (0..12).rev() {
        w.write(&mut parent, a.add(p * PAGE), 100 + p).unwrap();
    }
    for p in 14..16 {
        assert_eq!(w.read(&mut parent, a.add(p * PAGE)), Ok(0));
    }
    let mut child = w.fork(&mut parent).unwrap();
    // The child lets go of 3, 5 and 7: the parent holds those alone, the
    // rest stays shared; shared and own pages alternate in the run.
    for p in [3, 5, 7] {
        w.munmap(&mut child, a.add(p * PAGE), PAGE).unwrap();
    }
    let before: Vec<_> = (0..12).map(|p| parent.translate(a.add(p * PAGE)).unwrap().0).collect();
    w.write(&mut parent, a, 50).unwrap();
    w.write(&mut parent, a.add(PAGE), 51).unwrap();
    assert_eq!(writable(&parent, a, 16), (0..14).collect::<Vec<_>>(), "all but the zero-read pages");
    for p in 2..12 {
        let frame = parent.translate(a.add(p * PAGE)).unwrap().0;
        let own = [3, 5, 7].contains(&p);
        assert_eq!(frame == before[p as usize], own, "page {p}: copied exactly when shared");
        assert_eq!(w.frames.refcount_of(frame), 1, "page {p}");
        assert_eq!(w.read(&mut parent, a.add(p * PAGE)), Ok(100 + p), "page {p}: its contents");
    }
    for p in 12..14 {
        assert_eq!(w.read(&mut parent, a.add(p * PAGE)), Ok(0), "page {p}: a new zeroed frame");
    }
    for p in 14..16 {
        assert_eq!(parent.translate(a.add(p * PAGE)).unwrap().0, w.frames_zero(), "page {p}: left to its fault");
    }
    // The child's TLB must not keep the parent's new frames: a write
    // through the parent is not seen by the child.
    for p in (2..12).filter(|p| ![3, 5, 7].contains(p)) {
        w.write(&mut parent, a.add(p * PAGE), 200 + p).unwrap();
        assert_eq!(w.read(&mut child, a.add(p * PAGE)), Ok(100 + p), "page {p}: the child keeps its frame");
    }
    finish(w, vec![parent, child]);
}

#[test]
fn running_out_of_frames_stops_the_fill_not_the_fault() {
    let (mut w, mut s) = world();
    let a = w.anon_at(&mut s, BLOCK, 16, RW, PRIVATE).unwrap();
    w.write(&mut s, a, 1).unwrap();
    // The fault's own frame, then four filled pages, then none.
    w.plan.fail_in(5);
    w.write(&mut s, a.add(PAGE), 2).unwrap();
    assert_eq!(w.plan.failures(), 1);
    w.plan.clear();
    assert_eq!(writable(&s, a, 16), (0..6).collect::<Vec<_>>());
    w.check(&[&s], &[]);
    w.write(&mut s, a.add(6 * PAGE), 6).unwrap();
    assert_eq!(writable(&s, a, 16), (0..16).collect::<Vec<_>>(), "the next fault goes on");
    // Read-only memory is never filled.
    let r = w.anon_at(&mut s, BLOCK + 16 * PAGE, 16, Prot::READ, PRIVATE).unwrap();
    assert!(w.write(&mut s, r, 1).is_err());
    finish(w, vec![s]);
}

#[test]
fn without_the_setting_each_page_is_exactly_as_touched() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon_at(&mut s, BLOCK, 16, RW, PRIVATE).unwrap();
    w.write(&mut s, a, 1).unwrap();
    w.write(&mut s, a.add(PAGE), 2).unwrap();
    assert_eq!(writable(&s, a, 16), [0, 1]);
    finish(w, vec![s]);
}
