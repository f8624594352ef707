//! madvise, msync, stack growth, the cap, device and borrowed memory,
//! placement, the listing, W^X, teardown.

use rmm::{MemoryKind, PhysAddr};

use super::harness::*;
use crate::{
    Access, Advice, FaultError, MapFlags, MapSource, MmError, MmapRequest, MsyncFlags, PhysKind, Prot, RemapFlags,
    SpaceConfig,
};

#[test]
fn dontneed_zeroes_private_memory() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 3, RW, PRIVATE);
    w.write_pages(&mut s, a, 3, 1);
    w.madvise(&mut s, a, 2 * PAGE, Advice::DontNeed).unwrap();
    assert_eq!(w.frames.live(), 1);
    assert_eq!(s.resident_pages(), 1);
    assert_eq!(w.read(&mut s, a), Ok(0));
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3));
    for advice in [Advice::Normal, Advice::Random, Advice::Sequential, Advice::WillNeed] {
        w.madvise(&mut s, a, 3 * PAGE, advice).unwrap();
    }
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3), "hints change nothing");
    for raw in [5, 6, 7, 12, 13, 25, 100, 101, 104, 1000] {
        assert_eq!(Advice::from_raw(raw), Err(MmError::Inval), "advice {raw}");
    }
    assert_eq!(Advice::from_raw(24), Ok(Advice::DontNeed), "DONTNEED_LOCKED");
    for advice in
        [Advice::HugePage, Advice::NoHugePage, Advice::DontDump, Advice::DoDump, Advice::Cold, Advice::PageOut]
    {
        w.madvise(&mut s, a, 3 * PAGE, advice).unwrap();
    }
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3), "hints change nothing");
    assert_eq!(w.madvise(&mut s, a, 4 * PAGE, Advice::DontNeed), Err(MmError::NoMem));
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(3), "ENOMEM dropped nothing");
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn fork_leaves_out_dontfork_and_wipes_wipeonfork() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE);
    let b = w.anon(&mut s, 1, RW, SHARED);
    w.write_pages(&mut s, a, 4, 10);
    w.write(&mut s, b, 7).unwrap();
    w.madvise(&mut s, a.add(PAGE), PAGE, Advice::DontFork).unwrap();
    w.madvise(&mut s, a.add(2 * PAGE), PAGE, Advice::WipeOnFork).unwrap();
    assert_eq!(w.madvise(&mut s, b, PAGE, Advice::WipeOnFork), Err(MmError::Inval), "shared memory");
    assert_eq!(s.grant_count(), 5, "cut into four, plus the shared one");
    let mut child = w.fork(&mut s).unwrap();
    assert_eq!(w.read(&mut child, a), Ok(10));
    assert_eq!(w.access(&mut child, a.add(PAGE), Access::Read), Err(FaultError::Segv), "left out");
    assert_eq!(w.read(&mut child, a.add(2 * PAGE)), Ok(0), "wiped");
    assert_eq!(w.read(&mut child, a.add(3 * PAGE)), Ok(13));
    assert_eq!(w.read(&mut child, b), Ok(7));
    assert_eq!(child.mapped_pages(), 4);
    // The grandchild is wiped too; the parent keeps its data.
    w.write(&mut child, a.add(2 * PAGE), 99).unwrap();
    let mut grandchild = w.fork(&mut child).unwrap();
    assert_eq!(w.read(&mut grandchild, a.add(2 * PAGE)), Ok(0));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(11));
    assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(12));
    // Undone: one grant again, copied whole.
    w.madvise(&mut s, a, 4 * PAGE, Advice::DoFork).unwrap();
    w.madvise(&mut s, a, 4 * PAGE, Advice::KeepOnFork).unwrap();
    assert_eq!(s.grant_count(), 2);
    let mut again = w.fork(&mut s).unwrap();
    assert_eq!(w.read(&mut again, a.add(PAGE)), Ok(11));
    assert_eq!(w.read(&mut again, a.add(2 * PAGE)), Ok(12));
    w.check(&[&s, &child, &grandchild, &again], &[]);
    w.teardown(again);
    w.teardown(grandchild);
    w.teardown(child);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn msync_validates() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, SHARED);
    assert_eq!(s.msync(a, 2 * PAGE, MsyncFlags::SYNC), Ok(()));
    assert_eq!(s.msync(a, 2 * PAGE, MsyncFlags::ASYNC | MsyncFlags::INVALIDATE), Ok(()));
    assert_eq!(s.msync(a, 2 * PAGE, MsyncFlags::SYNC | MsyncFlags::ASYNC), Err(MmError::Inval));
    assert_eq!(s.msync(a.add(1), PAGE, MsyncFlags::SYNC), Err(MmError::Inval));
    assert_eq!(s.msync(a, 3 * PAGE, MsyncFlags::SYNC), Err(MmError::NoMem));
    assert_eq!(MsyncFlags::from_raw(8), Err(MmError::Inval));
    w.teardown(s);
}

#[test]
fn stacks_grow_down_within_their_limit_and_keep_a_guard_gap() {
    let mut w = World::new();
    let mut config = World::config();
    config.stack_guard_pages = 4;
    config.stack_max_pages = 16;
    let mut s = w.space_with(config);
    let top = 0x100_0000u64;
    let stack = w.anon_at(&mut s, top - 2 * PAGE, 2, RW, PRIVATE | MapFlags::FIXED | MapFlags::GROWSDOWN).unwrap();
    let below_end = top - 2 * PAGE - 8 * PAGE;
    w.anon_at(&mut s, below_end - 2 * PAGE, 2, R, PRIVATE | MapFlags::FIXED).unwrap();

    assert_eq!(stack, va(top - 2 * PAGE));
    w.write(&mut s, va(top - 3 * PAGE), 1).unwrap();
    let grown = s.grant_at(va(top - PAGE)).unwrap();
    assert_eq!((grown.start, grown.end), (va(top - 3 * PAGE), va(top)));
    assert!(grown.grows_down);
    // Two pages further down is fine; the fault maps just that page.
    assert_eq!(w.read(&mut s, va(top - 5 * PAGE)), Ok(0));
    assert_eq!(s.grant_at(va(top - PAGE)).unwrap().start, va(top - 5 * PAGE));
    // The guard: the grant below ends at below_end, 4 pages must stay free.
    let before = Snapshot::of(&[&s], &[], &w.frames);
    assert_eq!(w.read(&mut s, va(below_end + 3 * PAGE)), Err(FaultError::Segv));
    assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    assert_eq!(w.read(&mut s, va(below_end + 4 * PAGE)), Ok(0));
    // Exec on a non-executable stack, and growth past the limit.
    w.munmap(&mut s, va(below_end - 2 * PAGE), 2 * PAGE).unwrap();
    assert_eq!(w.access(&mut s, va(below_end), Access::Exec), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, va(top - 17 * PAGE)), Err(FaultError::Segv), "17 pages > the 16-page limit");
    assert_eq!(w.read(&mut s, va(top - 16 * PAGE)), Ok(0));
    w.check(&[&s], &[]);
    // Placement leaves the guard below a stack free.
    let mut s2 = w.space_with(s.config().clone());
    let st = w.anon_at(&mut s2, 0x20_0000, 1, RW, PRIVATE | MapFlags::FIXED | MapFlags::GROWSDOWN).unwrap();
    w.anon_at(&mut s2, 0x20_0000 - 6 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    let gap_start = 0x20_0000 - 5 * PAGE;
    let placed = w.mmap(&mut s2, &MmapRequest::anonymous(2 * PAGE, R, PRIVATE).at(va(gap_start + PAGE))).unwrap();
    assert_eq!(placed, va(MIN_ADDR), "a hint inside the guard is refused; the big gap is used");
    assert_eq!(st, va(0x20_0000));
    let one = w.mmap(&mut s2, &MmapRequest::anonymous(PAGE, R, PRIVATE).at(va(gap_start))).unwrap();
    assert_eq!(one, va(gap_start), "1 page + 4 guard pages fit exactly");
    // A grows-down mapping without MAP_FIXED goes at the top of a gap with
    // room for its guard, and can grow.
    let flags = PRIVATE | MapFlags::GROWSDOWN;
    let auto = w.mmap(&mut s2, &MmapRequest::anonymous(PAGE, RW, flags)).unwrap();
    let below = s2.grants().filter(|g| g.end <= auto).last().unwrap();
    assert!(below.end.get() + 4 * PAGE < auto.get(), "room below the new stack");
    assert_eq!(w.read(&mut s2, va(auto.get() - PAGE)), Ok(0), "it grows");
    w.check(&[&s, &s2], &[]);
    w.teardown(s2);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn the_cap_limits_mapped_pages() {
    let mut w = World::new();
    let mut config = World::config();
    config.max_mapped_pages = Some(10);
    let mut s = w.space_with(config);
    let a = w.anon(&mut s, 8, RW, PRIVATE);
    assert_eq!(w.mmap(&mut s, &MmapRequest::anonymous(3 * PAGE, RW, PRIVATE)), Err(MmError::NoMem));
    // Replacing mapped pages does not count twice.
    w.anon_at(&mut s, a.get() + 6 * PAGE, 4, R, PRIVATE | MapFlags::FIXED).unwrap();
    assert_eq!(s.mapped_pages(), 10);
    assert_eq!(w.mremap(&mut s, a, PAGE, 2 * PAGE, RemapFlags::MAYMOVE, va(0)), Err(MmError::NoMem));
    s.set_max_mapped_pages(None);
    w.anon(&mut s, 3, RW, PRIVATE);
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn lend_aside_marks_owned_memory_and_changes_no_pte() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 8, RW, PRIVATE);
    w.write_pages(&mut s, a, 8, 20);
    let ptes = |s: &Space| (0..8).map(|i| s.translate(a.add(i * PAGE))).collect::<Vec<_>>();
    let before = ptes(&s);
    w.madvise(&mut s, a.add(2 * PAGE), 3 * PAGE, Advice::LendAside).unwrap();
    assert_eq!(s.grant_count(), 3, "cut at both ends");
    assert_eq!(ptes(&s), before, "every PTE as it was: writable, same frame");
    assert!(s.lent_aside(a.add(3 * PAGE), 1));
    assert!(s.lent_aside(a.add(PAGE), 2), "a range reaching into it");
    assert!(!s.lent_aside(a.add(PAGE), 1) && !s.lent_aside(a.add(5 * PAGE), 3), "either side");
    assert!(!s.lent_aside(a.add(8 * PAGE), 4), "unmapped");
    w.write(&mut s, a.add(3 * PAGE), 99).unwrap();
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(99), "the space itself uses the pages as before");
    let child = w.fork(&mut s).unwrap();
    assert!(child.lent_aside(a.add(2 * PAGE), 1), "a fork's copy keeps the mark");
    // Opened: one grant again.
    w.madvise(&mut s, a, 8 * PAGE, Advice::LendOpen).unwrap();
    assert_eq!(s.grant_count(), 1);
    assert!(!s.lent_aside(a, 8));
    // Only memory the space owns: shared anonymous memory yes, a device's no.
    let b = w.anon(&mut s, 2, RW, SHARED);
    w.madvise(&mut s, b, 2 * PAGE, Advice::LendAside).unwrap();
    assert!(s.lent_aside(b.add(PAGE), 1));
    let request = MmapRequest::anonymous(PAGE, RW, SHARED)
        .source(MapSource::Physical { phys: PhysAddr::new(0xFE00_0000), kind: PhysKind::Uncached });
    let d = w.mmap(&mut s, &request).unwrap();
    for advice in [Advice::LendAside, Advice::LendOpen] {
        assert_eq!(w.madvise(&mut s, d, PAGE, advice), Err(MmError::Inval), "{advice:?}");
    }
    assert_eq!((Advice::from_raw(0x1000), Advice::from_raw(0x1001)), (Ok(Advice::LendAside), Ok(Advice::LendOpen)));
    w.check(&[&s, &child], &[]);
    w.teardown(child);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn device_memory_is_eager_unrefcounted_and_shared_by_fork() {
    let mut w = World::new();
    let mut s = w.space();
    let phys = PhysAddr::new(0xFE00_0000);
    let request = MmapRequest::anonymous(3 * PAGE, RW, SHARED)
        .source(MapSource::Physical { phys, kind: PhysKind::WriteCombining });
    let a = w.mmap(&mut s, &request).unwrap();
    for i in 0..3 {
        let (frame, flags) = s.translate(a.add(i * PAGE)).expect("mapped eagerly");
        assert_eq!(frame, phys.add(i * PAGE));
        assert_eq!(flags.memory_kind(), MemoryKind::Device);
    }
    assert_eq!((s.resident_pages(), w.frames.live()), (0, 0));
    let child = w.fork(&mut s).unwrap();
    assert_eq!(child.translate(a.add(2 * PAGE)).unwrap().0, phys.add(2 * PAGE));
    for advice in [Advice::DontNeed, Advice::Free, Advice::Cold, Advice::PageOut, Advice::DoDump] {
        assert_eq!(w.madvise(&mut s, a, PAGE, advice), Err(MmError::Inval), "{advice:?}");
    }
    for advice in [Advice::WillNeed, Advice::HugePage, Advice::DontDump] {
        w.madvise(&mut s, a, PAGE, advice).unwrap();
    }
    assert_eq!(w.mremap(&mut s, a, 3 * PAGE, 4 * PAGE, RemapFlags::MAYMOVE, va(0)), Err(MmError::Fault));
    // PROT_NONE and back: mapped again on access.
    w.mprotect(&mut s, a, 3 * PAGE, Prot::NONE).unwrap();
    assert_eq!(s.translate(a), None);
    w.mprotect(&mut s, a, 3 * PAGE, R).unwrap();
    assert_eq!(w.access(&mut s, a.add(PAGE), Access::Read), Ok(phys.add(PAGE)));
    let b = w.mremap(&mut s, a, 3 * PAGE, 2 * PAGE, RemapFlags::MAYMOVE | RemapFlags::FIXED, va(0x80_0000)).unwrap();
    assert_eq!(w.access(&mut s, b.add(PAGE), Access::Read), Ok(phys.add(PAGE)));
    let private =
        MmapRequest::anonymous(PAGE, RW, PRIVATE).source(MapSource::Physical { phys, kind: PhysKind::Uncached });
    assert_eq!(w.mmap(&mut s, &private), Err(MmError::Inval));
    w.check(&[&s, &child], &[]);
    w.teardown(child);
    w.teardown(s);
}

#[test]
fn borrowed_frames_hold_a_reference_each() {
    let mut w = World::new();
    let mut lender = w.space();
    let l = w.anon(&mut lender, 2, RW, SHARED);
    w.write(&mut lender, l, 1).unwrap();
    w.write(&mut lender, l.add(PAGE), 2).unwrap();
    let lent: Vec<_> = (0..2).map(|i| lender.translate(l.add(i * PAGE)).unwrap().0).collect();
    let mut s = w.space();
    let request = MmapRequest::anonymous(2 * PAGE, RW, SHARED).source(MapSource::External { lender: 7, frames: &lent });
    let a = w.mmap(&mut s, &request).unwrap();
    assert_eq!(w.frames.refcount_of(lent[0]), 3, "object + lender's PTE + borrower");
    w.write(&mut s, a.add(PAGE), 20).unwrap();
    assert_eq!(w.read(&mut lender, l.add(PAGE)), Ok(20));
    let wrong = MmapRequest::anonymous(3 * PAGE, RW, SHARED).source(MapSource::External { lender: 7, frames: &lent });
    assert_eq!(w.mmap(&mut s, &wrong), Err(MmError::Inval));
    w.check(&[&s, &lender], &[]);
    // Fork shares them (one more reference each); PROT_NONE keeps them.
    let child = w.fork(&mut s).unwrap();
    assert_eq!(w.frames.refcount_of(lent[0]), 4);
    assert_eq!(child.translate(a.add(PAGE)).unwrap().0, lent[1]);
    w.mprotect(&mut s, a, 2 * PAGE, Prot::NONE).unwrap();
    assert_eq!(s.translate(a), None);
    assert_eq!(w.frames.refcount_of(lent[0]), 4, "PROT_NONE keeps the borrowed references");
    w.mprotect(&mut s, a, 2 * PAGE, R).unwrap();
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(20), "mapped again on access");
    assert_eq!(w.madvise(&mut s, a, PAGE, Advice::DontNeed), Err(MmError::Inval));
    w.check(&[&s, &lender, &child], &[]);
    w.teardown(child);
    w.munmap(&mut s, a, 2 * PAGE).unwrap();
    assert_eq!(w.frames.refcount_of(lent[0]), 2);
    w.teardown(s);
    w.teardown(lender);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn placement_is_best_fit_and_honours_free_hints() {
    let mut w = World::new();
    let mut config = World::config();
    config.user_end = va(MIN_ADDR + 40 * PAGE);
    let mut s = w.space_with(config);
    let base = MIN_ADDR;
    // Gaps of 5, 2 and 3 pages, then the rest.
    w.anon_at(&mut s, base + 5 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    w.anon_at(&mut s, base + 8 * PAGE, 1, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.anon_at(&mut s, base + 12 * PAGE, 1, R, PRIVATE | MapFlags::FIXED).unwrap();
    let place = |w: &mut World, s: &mut Space, pages: u64, hint: u64| {
        w.mmap(s, &MmapRequest::anonymous(pages * PAGE, Prot::EXEC, PRIVATE).at(va(hint))).unwrap().get()
    };
    assert_eq!(place(&mut w, &mut s, 2, 0), base + 6 * PAGE, "the 2-page gap");
    assert_eq!(place(&mut w, &mut s, 3, 0), base + 9 * PAGE, "the 3-page gap");
    assert_eq!(place(&mut w, &mut s, 1, 0), base, "lowest of the smallest");
    assert_eq!(place(&mut w, &mut s, 2, base + 20 * PAGE), base + 20 * PAGE, "a free hint is honoured");
    assert_eq!(place(&mut w, &mut s, 2, base + 20 * PAGE), base + PAGE, "a taken hint is not");
    assert_eq!(w.mmap(&mut s, &MmapRequest::anonymous(30 * PAGE, R, PRIVATE)), Err(MmError::NoMem));
    assert!(s.grants().all(|g| g.start.get() >= MIN_ADDR), "nothing below min_addr");
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn listing_reads_like_proc_maps() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon_at(&mut s, 0x10_0000, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.write(&mut s, a, 1).unwrap();
    let b = w.anon_at(&mut s, 0x20_0000, 1, R, SHARED | MapFlags::FIXED).unwrap();
    w.read(&mut s, b).unwrap();
    w.anon_at(&mut s, 0x30_0000, 1, RW, PRIVATE | MapFlags::FIXED | MapFlags::GROWSDOWN).unwrap();
    let lines: Vec<String> = s.grants().map(|g| g.to_string()).collect();
    let id = match s.grant_at(b).unwrap().kind {
        crate::ProviderKind::AllocatedShared(id) => id,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        lines,
        vec![
            "0000000000100000-0000000000102000 rw-p anon 1".to_string(),
            format!("0000000000200000-0000000000201000 r--s shared:{id} 1"),
            "0000000000300000-0000000000301000 rw-p anon [stack] 0".to_string(),
        ]
    );
    w.teardown(s);
}

#[test]
fn write_and_execute_together_is_refused_unless_allowed() {
    let mut w = World::new();
    let mut s = w.space();
    let rwx = Prot::READ | Prot::WRITE | Prot::EXEC;
    assert_eq!(w.mmap(&mut s, &MmapRequest::anonymous(PAGE, rwx, PRIVATE)), Err(MmError::Access));
    let a = w.anon(&mut s, 1, RW, PRIVATE);
    assert_eq!(w.mprotect(&mut s, a, PAGE, rwx), Err(MmError::Access));
    w.mprotect(&mut s, a, PAGE, Prot::READ | Prot::EXEC).unwrap();
    assert_eq!(w.access(&mut s, a, Access::Exec), Ok(w.frames_zero()));
    let mut config: SpaceConfig = World::config();
    config.allow_write_exec = true;
    let mut jit = w.space_with(config);
    let b = w.mmap(&mut jit, &MmapRequest::anonymous(PAGE, rwx, PRIVATE)).unwrap();
    w.write(&mut jit, b, 1).unwrap();
    assert!(jit.translate(b).unwrap().1.is_executable());
    w.teardown(jit);
    w.teardown(s);
}

#[test]
fn teardown_releases_everything() {
    let mut w = World::new();
    let object = new_object(4);
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE | MapFlags::POPULATE);
    w.anon(&mut s, 4, RW, SHARED | MapFlags::POPULATE);
    let o = w
        .mmap(
            &mut s,
            &MmapRequest::anonymous(4 * PAGE, RW, SHARED)
                .source(MapSource::Object { object: object.clone(), offset_bytes: 0 }),
        )
        .unwrap();
    w.write(&mut s, o, 1).unwrap();
    let mut child = w.fork(&mut s).unwrap();
    w.write(&mut child, a, 5).unwrap();
    w.check(&[&s, &child], &[&object]);
    w.teardown(s);
    w.teardown(child);
    assert_eq!(w.frames.live(), 1, "only the object's page, held by the scheme's handle");
    crate::MemObject::release(object, &mut w.frames);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn covered_by_walks_grants_not_pages() {
    use crate::ProviderKind;
    let mut w = World::new();
    let mut s = w.space();
    let owned = |kind: &ProviderKind| matches!(kind, ProviderKind::Allocated | ProviderKind::AllocatedShared(_));
    let a = w.anon_at(&mut s, 0x40_0000, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.anon_at(&mut s, 0x40_2000, 3, R, SHARED | MapFlags::FIXED).unwrap();
    let device = MmapRequest::anonymous(PAGE, RW, SHARED | MapFlags::FIXED)
        .at(va(0x40_5000))
        .source(MapSource::Physical { phys: PhysAddr::new(0xFE00_0000), kind: PhysKind::Uncached });
    w.mmap(&mut s, &device).unwrap();
    assert!(s.covered_by(a, 5, owned), "two neighbouring owned grants, private and shared");
    assert!(s.covered_by(a.add(PAGE + 1), 1, owned), "an unaligned address names its page");
    assert!(!s.covered_by(a, 6, owned), "the device page after them is not owned");
    assert!(!s.covered_by(va(0x40_5000), 1, owned));
    assert!(!s.covered_by(va(0x40_6000), 1, owned), "a hole");
    assert!(!s.covered_by(a, 0, owned), "an empty range");
    assert!(!s.covered_by(a, u64::MAX, owned), "a wrapping range");
    assert!(s.covered_by(va(0x40_5000), 1, |kind| !owned(kind)));
    w.teardown(s);
}
