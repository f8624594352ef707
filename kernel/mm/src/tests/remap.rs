//! mremap: grow in place, shrink, move (frames move, nothing is copied),
//! DONTUNMAP, FIXED, and the one-grant rule.

use super::harness::*;
use crate::{FaultError, MapFlags, MmError, RemapFlags};

const NONE: RemapFlags = RemapFlags::empty();
const MAYMOVE: RemapFlags = RemapFlags::MAYMOVE;

fn fill(w: &mut World, s: &mut Space, a: rmm::VirtAddr, pages: u64, base: u64) {
    for i in 0..pages {
        w.write(s, a.add(i * PAGE), base + i).unwrap();
    }
}

#[test]
fn grow_in_place_then_shrink() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon_at(&mut s, 0x10_0000, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    fill(&mut w, &mut s, a, 2, 1);
    assert_eq!(w.mremap(&mut s, a, 2 * PAGE, 5 * PAGE, NONE, va(0)), Ok(a));
    assert_eq!(s.mapped_pages(), 5);
    assert_eq!(s.grants().count(), 1);
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(2));
    assert_eq!(w.read(&mut s, a.add(4 * PAGE)), Ok(0), "grown pages are demand-zero");
    w.check(&[&s], &[]);
    // Blocked by a neighbour and no MAYMOVE: ENOMEM, nothing changed.
    w.anon_at(&mut s, 0x10_0000 + 6 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    let before = Snapshot::of(&[&s], &[], &w.frames);
    assert_eq!(w.mremap(&mut s, a, 5 * PAGE, 7 * PAGE, NONE, va(0)), Err(MmError::NoMem));
    assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    // Shrink: the tail goes, frames freed.
    let live = w.frames.live();
    assert_eq!(w.mremap(&mut s, a, 5 * PAGE, PAGE, NONE, va(0)), Ok(a));
    assert_eq!(w.frames.live(), live - 1);
    assert_eq!(w.read(&mut s, a.add(PAGE)), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, a), Ok(1));
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn move_takes_the_frames_along() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon_at(&mut s, 0x10_0000, 3, RW, PRIVATE | MapFlags::FIXED).unwrap();
    fill(&mut w, &mut s, a, 3, 50);
    w.anon_at(&mut s, 0x10_0000 + 3 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    let frames: Vec<_> = (0..3).map(|i| s.translate(a.add(i * PAGE)).unwrap().0).collect();
    let live = w.frames.live();
    let b = w.mremap(&mut s, a, 3 * PAGE, 4 * PAGE, MAYMOVE, va(0)).unwrap();
    assert_ne!(b, a);
    assert_eq!(w.frames.live(), live, "nothing copied");
    for i in 0..3 {
        assert_eq!(s.translate(b.add(i * PAGE)).unwrap().0, frames[i as usize], "page {i} moved with its frame");
        assert_eq!(w.read(&mut s, b.add(i * PAGE)), Ok(50 + i));
        assert_eq!(w.read(&mut s, a.add(i * PAGE)), Err(FaultError::Segv));
    }
    assert_eq!(w.read(&mut s, b.add(3 * PAGE)), Ok(0));
    w.check(&[&s], &[]);
    // FIXED: to an exact place, replacing what is there.
    let target = 0x20_0000;
    w.anon_at(&mut s, target, 2, R, PRIVATE | MapFlags::FIXED).unwrap();
    let c = w.mremap(&mut s, b, 4 * PAGE, 2 * PAGE, MAYMOVE | RemapFlags::FIXED, va(target)).unwrap();
    assert_eq!(c, va(target));
    assert_eq!(w.read(&mut s, c.add(PAGE)), Ok(51));
    assert_eq!(s.grant_at(c).unwrap().prot, RW);
    assert_eq!(w.read(&mut s, b), Err(FaultError::Segv));
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn dontunmap_leaves_the_old_range_empty() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, PRIVATE);
    fill(&mut w, &mut s, a, 2, 70);
    let b = w.mremap(&mut s, a, 2 * PAGE, 2 * PAGE, MAYMOVE | RemapFlags::DONTUNMAP, va(0)).unwrap();
    assert_ne!(a, b);
    assert_eq!(w.read(&mut s, b.add(PAGE)), Ok(71));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(0), "the old range is still mapped, zero-filled");
    assert_eq!(s.mapped_pages(), 4);
    w.check(&[&s], &[]);
    // DONTUNMAP needs MAYMOVE and equal lengths.
    assert_eq!(w.mremap(&mut s, b, 2 * PAGE, 2 * PAGE, RemapFlags::DONTUNMAP, va(0)), Err(MmError::Inval));
    assert_eq!(w.mremap(&mut s, b, 2 * PAGE, 3 * PAGE, MAYMOVE | RemapFlags::DONTUNMAP, va(0)), Err(MmError::Inval));
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn old_range_must_be_inside_one_grant() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon_at(&mut s, 0x10_0000, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.anon_at(&mut s, 0x10_0000 + 2 * PAGE, 2, R, PRIVATE | MapFlags::FIXED).unwrap();
    assert_eq!(w.mremap(&mut s, a, 3 * PAGE, 4 * PAGE, MAYMOVE, va(0)), Err(MmError::Fault), "spans two grants");
    assert_eq!(w.mremap(&mut s, va(0x30_0000), PAGE, PAGE, MAYMOVE, va(0)), Err(MmError::Fault), "unmapped");
    // A sub-range of one grant moves out of its middle.
    let b = w.anon_at(&mut s, 0x40_0000, 4, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.write(&mut s, b.add(PAGE), 9).unwrap();
    let c = w.mremap(&mut s, b.add(PAGE), PAGE, PAGE, MAYMOVE | RemapFlags::FIXED, va(0x50_0000)).unwrap();
    assert_eq!(w.read(&mut s, c), Ok(9));
    assert_eq!(s.grants().filter(|g| g.start.get() >= 0x40_0000 && g.end.get() <= 0x40_0000 + 4 * PAGE).count(), 2);
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn zero_old_length_duplicates_a_shared_mapping() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, SHARED);
    w.write(&mut s, a.add(PAGE), 4).unwrap();
    let b = w.mremap(&mut s, a, 0, 2 * PAGE, MAYMOVE, va(0)).unwrap();
    assert_eq!(w.read(&mut s, b.add(PAGE)), Ok(4));
    w.write(&mut s, b, 5).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(5));
    let p = w.anon(&mut s, 1, RW, PRIVATE);
    assert_eq!(w.mremap(&mut s, p, 0, PAGE, MAYMOVE, va(0)), Err(MmError::Inval), "private: EINVAL");
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}
