//! Splitting, merging and replacing grants: partial munmap, mprotect of a
//! middle part, MAP_FIXED replacement, MAP_FIXED_NOREPLACE, PROT_NONE.

use super::fake::ZERO_FRAME;
use super::harness::*;
use crate::{FaultError, MapFlags, MmError, MmapRequest, Prot, Shootdown};

const POPULATE: MapFlags = MapFlags::POPULATE;

fn spans(space: &Space) -> Vec<(u64, u64, Prot)> {
    space.grants().map(|g| (g.start.get(), g.end.get(), g.prot)).collect()
}

#[test]
fn munmap_in_the_middle_leaves_two_grants_and_frees_frames_only_after_the_flush() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 8, RW, PRIVATE | POPULATE);
    w.write_pages(&mut s, a, 8, 100);
    let frames: Vec<_> = (0..8).map(|i| s.translate(a.add(i * PAGE)).unwrap().0).collect();
    assert_eq!(w.frames.live(), 8);

    let mut tlb = Shootdown::new();
    s.munmap(&mut w.frames, a.add(3 * PAGE), 2 * PAGE, &mut tlb).unwrap();
    assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a.add(3 * PAGE), 2)]);
    assert_eq!(tlb.deferred_frames(), 2);
    assert!(w.frames.is_live(frames[3]) && w.frames.is_live(frames[4]), "freed before the flush");
    s.table().flush(&tlb);
    tlb.finish(&mut w.frames);
    assert!(!w.frames.is_live(frames[3]) && !w.frames.is_live(frames[4]));
    assert_eq!(w.frames.live(), 6);

    let a0 = a.get();
    assert_eq!(spans(&s), vec![(a0, a0 + 3 * PAGE, RW), (a0 + 5 * PAGE, a0 + 8 * PAGE, RW)]);
    for i in 0..8 {
        let pte = s.translate(a.add(i * PAGE));
        if i == 3 || i == 4 {
            assert_eq!(pte, None);
            assert_eq!(w.read(&mut s, a.add(i * PAGE)), Err(FaultError::Segv));
        } else {
            assert_eq!(pte.unwrap().0, frames[i as usize], "page {i} kept its frame");
            assert_eq!(w.read(&mut s, a.add(i * PAGE)), Ok(100 + i));
        }
    }
    assert_eq!((s.mapped_pages(), s.resident_pages()), (6, 6));
    w.check(&[&s], &[]);
    // Unmapping a hole, and a range sticking out on both sides.
    w.munmap(&mut s, a.add(3 * PAGE), 2 * PAGE).unwrap();
    w.munmap(&mut s, a.add(2 * PAGE), 4 * PAGE).unwrap();
    assert_eq!(spans(&s), vec![(a0, a0 + 2 * PAGE, RW), (a0 + 6 * PAGE, a0 + 8 * PAGE, RW)]);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn mprotect_of_a_middle_part_splits_then_merges_back() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 6, RW, PRIVATE | POPULATE);
    w.write_pages(&mut s, a, 6, 10);
    let mut tlb = Shootdown::new();
    s.mprotect(&mut w.frames, a.add(2 * PAGE), 2 * PAGE, R, &mut tlb).unwrap();
    assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a.add(2 * PAGE), 2)], "downgrades are flushed");
    assert_eq!(tlb.deferred_frames(), 0);
    s.table().flush(&tlb);
    tlb.finish(&mut w.frames);
    let a0 = a.get();
    assert_eq!(
        spans(&s),
        vec![(a0, a0 + 2 * PAGE, RW), (a0 + 2 * PAGE, a0 + 4 * PAGE, R), (a0 + 4 * PAGE, a0 + 6 * PAGE, RW)]
    );
    assert!(!s.translate(a.add(2 * PAGE)).unwrap().1.is_writable());
    assert!(s.translate(a.add(PAGE)).unwrap().1.is_writable());
    assert_eq!(w.write(&mut s, a.add(3 * PAGE), 1), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(13));
    w.check(&[&s], &[]);

    // Back to RW: one grant again; the PTEs stay read-only (lazy upgrade)
    // until a write faults and raises its page's PTE from the grant.
    w.mprotect(&mut s, a.add(2 * PAGE), 2 * PAGE, RW).unwrap();
    assert_eq!(spans(&s), vec![(a0, a0 + 6 * PAGE, RW)]);
    assert!(!s.translate(a.add(2 * PAGE)).unwrap().1.is_writable());
    w.write(&mut s, a.add(3 * PAGE), 33).unwrap();
    assert!(s.translate(a.add(3 * PAGE)).unwrap().1.is_writable(), "the write fault raised the PTE");
    assert!(!s.translate(a.add(2 * PAGE)).unwrap().1.is_writable(), "only the faulting page");
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(33));
    // A zero-length mprotect is a no-op; a range with a hole is ENOMEM and changes nothing.
    w.mprotect(&mut s, a, 0, R).unwrap();
    let before = Snapshot::of(&[&s], &[], &w.frames);
    assert_eq!(w.mprotect(&mut s, a.add(4 * PAGE), 4 * PAGE, R), Err(MmError::NoMem));
    assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn map_fixed_replaces_atomically() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 8, RW, PRIVATE | POPULATE);
    w.write_pages(&mut s, a, 8, 1);
    let old_frame = s.translate(a.add(3 * PAGE)).unwrap().0;
    // Shared anonymous memory over pages 2..5.
    let b = w.anon_at(&mut s, a.get() + 2 * PAGE, 3, RW, SHARED | MapFlags::FIXED).unwrap();
    assert_eq!(b, a.add(2 * PAGE));
    assert!(!w.frames.is_live(old_frame), "replaced frames are released");
    let listing: Vec<_> = s.grants().map(|g| (g.start.get(), g.end.get(), g.shared)).collect();
    let a0 = a.get();
    assert_eq!(
        listing,
        vec![(a0, a0 + 2 * PAGE, false), (a0 + 2 * PAGE, a0 + 5 * PAGE, true), (a0 + 5 * PAGE, a0 + 8 * PAGE, false)]
    );
    assert_eq!(w.read(&mut s, a.add(3 * PAGE)), Ok(0), "the new mapping is fresh");
    assert_eq!(w.read(&mut s, a.add(5 * PAGE)), Ok(6), "the rest is untouched");
    assert_eq!(s.mapped_pages(), 8);
    w.check(&[&s], &[]);
    // Replacing it again with private memory merges everything back into one grant.
    w.anon_at(&mut s, a.get() + 2 * PAGE, 3, RW, PRIVATE | MapFlags::FIXED).unwrap();
    assert_eq!(spans(&s), vec![(a0, a0 + 8 * PAGE, RW)]);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn fixed_noreplace_refuses_to_overlap() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 4, RW, PRIVATE | POPULATE);
    w.write(&mut s, a, 7).unwrap();
    let before = Snapshot::of(&[&s], &[], &w.frames);
    let overlapping = a.get() + 3 * PAGE;
    assert_eq!(w.anon_at(&mut s, overlapping, 4, RW, PRIVATE | MapFlags::FIXED_NOREPLACE), Err(MmError::Exist));
    assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before);
    let free = a.get() + 4 * PAGE;
    assert_eq!(w.anon_at(&mut s, free, 2, R, PRIVATE | MapFlags::FIXED_NOREPLACE), Ok(va(free)));
    assert_eq!(w.read(&mut s, a), Ok(7));
    w.check(&[&s], &[]);
    w.teardown(s);
}

#[test]
fn prot_none_faults_and_keeps_the_data() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 3, RW, PRIVATE);
    w.write(&mut s, a, 42).unwrap();
    w.read(&mut s, a.add(PAGE)).unwrap(); // zero-frame page
    w.mprotect(&mut s, a, 3 * PAGE, Prot::NONE).unwrap();
    assert_eq!(s.translate(a), None, "PROT_NONE removes the PTEs");
    assert_eq!(s.translate(a.add(PAGE)), None);
    assert_eq!(w.read(&mut s, a), Err(FaultError::Segv));
    assert_eq!(w.write(&mut s, a.add(2 * PAGE), 1), Err(FaultError::Segv));
    assert_eq!(s.resident_pages(), 1, "the written page keeps its frame");
    w.check(&[&s], &[]);
    w.mprotect(&mut s, a, 3 * PAGE, R).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(42));
    assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(0));
    assert_eq!(w.write(&mut s, a, 1), Err(FaultError::Segv));
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn reads_map_the_zero_frame_and_the_first_write_copies() {
    let mut w = World::new();
    let mut s = w.space();
    let a = w.anon(&mut s, 2, RW, PRIVATE);
    assert_eq!(w.read(&mut s, a), Ok(0));
    let (frame, flags) = s.translate(a).unwrap();
    assert_eq!(frame, ZERO_FRAME);
    assert!(!flags.is_writable());
    assert_eq!((s.resident_pages(), w.frames.live()), (0, 0));
    w.check(&[&s], &[]);

    let mut tlb = Shootdown::new();
    s.fault(&mut w.frames, a, crate::Access::Write, &mut tlb).unwrap();
    assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a, 1)], "the zero-frame PTE is flushed");
    s.table().flush(&tlb);
    tlb.finish(&mut w.frames);
    let (frame, flags) = s.translate(a).unwrap();
    assert_ne!(frame, ZERO_FRAME);
    assert!(flags.is_writable());
    assert_eq!((s.resident_pages(), w.frames.live()), (1, 1));
    w.write(&mut s, a, 5).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(5));
    // A populated read-only mapping uses the zero frame, a writable one allocates.
    let ro = w.mmap(&mut s, &MmapRequest::anonymous(3 * PAGE, R, PRIVATE | POPULATE)).unwrap();
    assert!((0..3).all(|i| s.translate(ro.add(i * PAGE)).unwrap().0 == ZERO_FRAME));
    assert_eq!(w.frames.live(), 1);
    w.anon(&mut s, 3, RW, PRIVATE | POPULATE);
    assert_eq!(w.frames.live(), 4);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

/// mprotect that adds rights changes the grant, not the PTEs; each page's
/// next access that needs the right faults and the fault raises that PTE
/// from the grant (private, shared, execute). Removing rights takes them
/// from the PTEs at once and flushes them.
#[test]
fn mprotect_adds_rights_lazily_and_the_next_access_raises_the_pte() {
    let mut w = World::new();
    let mut s = w.space();
    let private = w.anon(&mut s, 4, RW, PRIVATE | POPULATE);
    let shared = w.anon(&mut s, 4, RW, SHARED | POPULATE);
    for i in 0..4 {
        w.write(&mut s, private.add(i * PAGE), 40 + i).unwrap();
        w.write(&mut s, shared.add(i * PAGE), 50 + i).unwrap();
    }
    for a in [private, shared] {
        let mut tlb = Shootdown::new();
        s.mprotect(&mut w.frames, a, 4 * PAGE, R, &mut tlb).unwrap();
        assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a, 4)], "lost write rights are flushed");
        s.table().flush(&tlb);
        tlb.finish(&mut w.frames);
        assert!((0..4).all(|i| !s.translate(a.add(i * PAGE)).unwrap().1.is_writable()));

        // Adding write: nothing to flush, no PTE touched.
        let mut tlb = Shootdown::new();
        s.mprotect(&mut w.frames, a, 4 * PAGE, RW, &mut tlb).unwrap();
        assert!(!tlb.needs_flush(), "an upgrade needs no flush");
        tlb.finish(&mut w.frames);
        assert!((0..4).all(|i| !s.translate(a.add(i * PAGE)).unwrap().1.is_writable()), "PTEs raised eagerly");
        w.check(&[&s], &[]);

        // The write after mprotect(RW) succeeds: its fault raises the PTE.
        w.write(&mut s, a.add(PAGE), 7).unwrap();
        assert!(s.translate(a.add(PAGE)).unwrap().1.is_writable(), "the write fault did not raise the PTE");
        assert!(!s.translate(a.add(2 * PAGE)).unwrap().1.is_writable(), "only the faulting page is raised");
        assert_eq!(w.read(&mut s, a.add(PAGE)), Ok(7));
        assert_eq!(w.read(&mut s, a.add(2 * PAGE)), Ok(if a == private { 42 } else { 52 }));
        w.check(&[&s], &[]);
    }

    // Execute added to a read-only mapping: the fetch faults and gets it.
    let code = w.anon(&mut s, 2, R, PRIVATE | POPULATE);
    w.mprotect(&mut s, code, 2 * PAGE, Prot::READ | Prot::EXEC).unwrap();
    assert!(!s.translate(code).unwrap().1.is_executable());
    assert_eq!(w.access(&mut s, code, crate::Access::Exec), Ok(ZERO_FRAME));
    assert!(s.translate(code).unwrap().1.is_executable());
    // RX back to R takes execute away from the raised PTE.
    w.mprotect(&mut s, code, 2 * PAGE, R).unwrap();
    assert!(!s.translate(code).unwrap().1.is_executable());
    assert_eq!(w.access(&mut s, code, crate::Access::Exec), Err(FaultError::Segv));
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

/// The spans a per-page protection list makes: maximal runs of one
/// protection (`None`: unmapped), as the grant tree must show them.
fn model_spans(base: u64, pages: &[Option<Prot>]) -> Vec<(u64, u64, Prot)> {
    let mut spans: Vec<(u64, u64, Prot)> = Vec::new();
    for (i, prot) in pages.iter().enumerate() {
        let Some(prot) = *prot else { continue };
        let at = base + i as u64 * PAGE;
        match spans.last_mut() {
            Some(last) if last.1 == at && last.2 == prot => last.1 += PAGE,
            _ => spans.push((at, at + PAGE, prot)),
        }
    }
    spans
}

/// Three grants side by side, low (4 pages RW), middle (8 pages R, or a
/// grows-down RW stack), high (4 pages RW); every page written.
fn three_grants(w: &mut World, s: &mut Space, stack: bool) -> (u64, Vec<Option<Prot>>) {
    let base = 0x40_0000;
    let fixed = PRIVATE | MapFlags::FIXED;
    let (middle, flags) = if stack { (RW, fixed | MapFlags::GROWSDOWN) } else { (R, fixed) };
    w.anon_at(s, base, 4, RW, fixed).unwrap();
    w.anon_at(s, base + 4 * PAGE, 8, middle, flags).unwrap();
    w.anon_at(s, base + 12 * PAGE, 4, RW, fixed).unwrap();
    w.mprotect(s, va(base + 4 * PAGE), 8 * PAGE, RW).unwrap();
    for i in 0..16 {
        w.write(s, va(base + i * PAGE), i + 1).unwrap();
    }
    w.mprotect(s, va(base + 4 * PAGE), 8 * PAGE, middle).unwrap();
    let mut pages = vec![Some(RW); 16];
    pages[4..12].fill(Some(middle));
    (base, pages)
}

/// mprotect of every part of a grant (all of it, its top, its bottom, a
/// part strictly inside) to a protection that joins a neighbour, to one
/// that does not, to its own and to PROT_NONE: the grants are the model's
/// runs, the data is kept, the gap index is untouched.
#[test]
fn mprotect_inside_one_grant_cuts_and_joins_like_the_model() {
    for prot in [RW, R, Prot::NONE, Prot::READ | Prot::EXEC] {
        for first in 0..8u64 {
            for last in first + 1..=8 {
                let mut w = World::new();
                let mut s = w.space();
                let (base, mut pages) = three_grants(&mut w, &mut s, false);
                let gaps = rebuilt_gaps(&s);
                w.mprotect(&mut s, va(base + (4 + first) * PAGE), (last - first) * PAGE, prot).unwrap();
                pages[(4 + first) as usize..(4 + last) as usize].fill(Some(prot));
                let what = format!("mprotect pages {first}..{last} to {prot:?}");
                assert_eq!(spans(&s), model_spans(base, &pages), "{what}");
                assert_eq!(rebuilt_gaps(&s), gaps, "{what}: gap index");
                for (i, page) in pages.iter().enumerate() {
                    let at = va(base + i as u64 * PAGE);
                    let want =
                        if page.is_some_and(|p| p.is_accessible()) { Ok(i as u64 + 1) } else { Err(FaultError::Segv) };
                    assert_eq!(w.read(&mut s, at), want, "{what}: page {i}");
                }
                w.check(&[&s], &[]);
                w.teardown(s);
                assert_eq!(w.frames.live(), 0, "{what}");
            }
        }
    }
}

/// munmap of every part of each of three grants, the middle one plain or
/// grows-down (whose guard the gap index keeps below it): the grants left
/// are the model's, the gap index equals one rebuilt from them, exactly the
/// unmapped pages' frames are freed.
#[test]
fn munmap_inside_one_grant_cuts_like_the_model() {
    // Parts of each of the three grants (pages 0-3, 4-11, 12-15): the low
    // grant's top and the high grant's bottom border the stack.
    let parts = [(0u64, 4u64), (4, 12), (12, 16)];
    for stack in [false, true] {
        for (first, last) in
            parts.iter().flat_map(|&(lo, hi)| (lo..hi).flat_map(move |f| (f + 1..=hi).map(move |l| (f, l))))
        {
            let mut w = World::new();
            let mut s = w.space();
            let (base, mut pages) = three_grants(&mut w, &mut s, stack);
            w.munmap(&mut s, va(base + first * PAGE), (last - first) * PAGE).unwrap();
            pages[first as usize..last as usize].fill(None);
            let what = format!("munmap pages {first}..{last} (stack: {stack})");
            assert_eq!(spans(&s).len(), s.grant_count() as usize);
            let grants: Vec<_> = spans(&s).iter().map(|&(start, end, _)| (start, end)).collect();
            let mut want: Vec<(u64, u64)> = Vec::new();
            // The model's runs, cut where the original grants met.
            for (start, end, _) in model_spans(base, &pages) {
                let cuts = [base + 4 * PAGE, base + 12 * PAGE];
                let mut from = start;
                for cut in cuts.into_iter().filter(|&c| start < c && c < end) {
                    want.push((from, cut));
                    from = cut;
                }
                want.push((from, end));
            }
            assert_eq!(grants, want, "{what}");
            assert_eq!(rebuilt_gaps(&s), s.gaps.iter().collect::<Vec<_>>(), "{what}: gap index");
            assert_eq!(w.frames.live(), pages.iter().flatten().count(), "{what}: frames");
            assert_eq!(s.mapped_pages(), pages.iter().flatten().count() as u64, "{what}");
            w.check(&[&s], &[]);
            w.teardown(s);
        }
    }
}

/// An anonymous mapping that continues an alike grant extends it in place;
/// when the call then fails (here: the space is over a lowered grant cap)
/// the extension is undone with the gap index and counters.
#[test]
fn an_extension_in_place_is_undone_with_its_call() {
    let mut w = World::new();
    let mut s = w.space();
    let base = 0x40_0000;
    w.anon_at(&mut s, base, 4, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.write(&mut s, va(base), 7).unwrap();
    w.anon_at(&mut s, base + 4 * PAGE, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    assert_eq!(spans(&s), vec![(base, base + 6 * PAGE, RW)], "extended, one grant");
    assert_eq!(rebuilt_gaps(&s), s.gaps.iter().collect::<Vec<_>>());
    let gaps = rebuilt_gaps(&s);
    let before = (s.mapped_pages(), s.grant_count());

    s.set_max_grants(0);
    assert_eq!(w.anon_at(&mut s, base + 6 * PAGE, 3, RW, PRIVATE | MapFlags::FIXED), Err(MmError::NoMem));
    assert_eq!(spans(&s), vec![(base, base + 6 * PAGE, RW)], "the extension is undone");
    assert_eq!(s.gaps.iter().collect::<Vec<_>>(), gaps, "gap index restored");
    assert_eq!((s.mapped_pages(), s.grant_count()), before);
    assert_eq!(w.read(&mut s, va(base + 6 * PAGE)), Err(FaultError::Segv));
    assert_eq!(w.read(&mut s, va(base)), Ok(7));
    s.set_max_grants(100);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

/// An anonymous mapping filling a hole joins its alike neighbours from one
/// descent (`Txn::place_grant`): between two alike grants it extends the
/// one below and absorbs the one above (one grant); with only the one
/// above alike it joins that one; and a failing call (a lowered grant cap)
/// undoes either, gap index and counters with it.
#[test]
fn a_mapping_filling_a_hole_joins_its_alike_neighbours_and_is_undone_with_its_call() {
    let mut w = World::new();
    let mut s = w.space();
    let base = 0x40_0000;
    let at = |page: u64| base + page * PAGE;
    let fixed = PRIVATE | MapFlags::FIXED;
    w.anon_at(&mut s, at(0), 2, RW, fixed).unwrap();
    w.anon_at(&mut s, at(3), 2, RW, fixed).unwrap();
    w.anon_at(&mut s, at(6), 2, Prot::READ, fixed).unwrap();
    w.anon_at(&mut s, at(9), 2, RW, fixed).unwrap();
    w.anon_at(&mut s, at(12), 2, RW, fixed).unwrap();
    w.write(&mut s, va(at(0)), 5).unwrap();
    w.write(&mut s, va(at(3)), 6).unwrap();

    // Both neighbours alike: one grant.
    w.anon_at(&mut s, at(2), 1, RW, fixed).unwrap();
    assert_eq!(spans(&s)[0], (at(0), at(5), RW), "{:?}", spans(&s));
    // Only the one above alike (a different protection below).
    w.anon_at(&mut s, at(5), 1, Prot::READ, fixed).unwrap();
    assert_eq!(spans(&s)[..2], [(at(0), at(5), RW), (at(5), at(8), Prot::READ)]);
    assert_eq!(rebuilt_gaps(&s), s.gaps.iter().collect::<Vec<_>>());
    assert_eq!((w.read(&mut s, va(at(0))), w.read(&mut s, va(at(3)))), (Ok(5), Ok(6)));

    // Failing calls are undone: one that would join the grant above only,
    // and one that would extend the grant below and join the one above.
    let (gaps, before, grants) = (rebuilt_gaps(&s), (s.mapped_pages(), s.grant_count()), spans(&s));
    s.set_max_grants(0);
    assert_eq!(w.anon_at(&mut s, at(8), 1, RW, fixed), Err(MmError::NoMem));
    assert_eq!(w.anon_at(&mut s, at(11), 1, RW, fixed), Err(MmError::NoMem));
    assert_eq!(spans(&s), grants, "undone");
    assert_eq!(s.gaps.iter().collect::<Vec<_>>(), gaps, "gap index restored");
    assert_eq!((s.mapped_pages(), s.grant_count()), before);
    s.set_max_grants(100);
    w.anon_at(&mut s, at(11), 1, RW, fixed).unwrap();
    assert_eq!(spans(&s)[2..], [(at(9), at(14), RW)]);
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}
