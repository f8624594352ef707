//! Kernel memory a process can make the grant layer use: read-only populate
//! and zero-page reads cost no slot and no per-page undo record, and the
//! grant cap (`max_grants`) turns a mapping storm into ENOMEM with nothing
//! changed.

use super::harness::*;
use crate::txn::PEAK_LOG;
use crate::{Access, MapFlags, MmError, MmapRequest, Prot, RemapFlags, SpaceConfig};

/// 200,000 pages: most of the fake user range.
const HUGE: u64 = 200_000;

fn peak_log() -> usize {
    PEAK_LOG.with(|peak| peak.replace(0))
}

#[test]
fn read_only_populate_costs_no_slots_and_no_per_page_undo() {
    let mut w = World::new();
    let mut s = w.space();
    peak_log();
    let a = w.anon(&mut s, HUGE, R, PRIVATE | MapFlags::POPULATE);
    assert!(peak_log() < 16, "populating the zero frame logged per page");
    assert_eq!(s.slots.len(), 0, "zero-frame pages took slots");
    assert_eq!(s.resident_pages(), 0);
    assert_eq!(s.table().entries.len() as u64, HUGE, "every page maps the zero frame");
    assert_eq!(w.read(&mut s, a.add((HUGE - 1) * PAGE)), Ok(0));
    w.check(&[&s], &[]);

    // Reads of untouched memory are slot-free too; the first write takes one.
    let b = w.anon(&mut s, 16, RW, PRIVATE);
    for i in 0..16 {
        assert_eq!(w.read(&mut s, b.add(i * PAGE)), Ok(0));
    }
    assert_eq!(s.slots.len(), 0);
    w.write(&mut s, b.add(3 * PAGE), 7).unwrap();
    assert_eq!(s.slots.len(), 1);
    assert_eq!(w.read(&mut s, b.add(3 * PAGE)), Ok(7));
    w.check(&[&s], &[]);

    // munmap walks only what is mapped and removes every zero-frame PTE.
    peak_log();
    w.munmap(&mut s, a, HUGE * PAGE).unwrap();
    assert_eq!(peak_log(), 0, "munmap logs nothing");
    assert_eq!(s.table().entries.len(), 16, "only the second mapping is left");
    w.check(&[&s], &[]);
    w.teardown(s);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn a_failed_populate_leaves_no_zero_frame_ptes_behind() {
    // MAP_FIXED over an existing mapping whose populate runs out of page
    // tables part-way: the old mapping is back and no zero PTE of the new
    // one is left (check_space refuses a PTE outside its grant's rules).
    let mut w = World::new();
    let mut s = w.space();
    let at = 0x20_0000 - 4 * PAGE;
    w.anon_at(&mut s, at, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.write(&mut s, va(at), 5).unwrap();
    let before = Snapshot::of(&[&s], &[], &w.frames);
    let mut failed = false;
    for n in 0..8 {
        w.plan.fail_in(n);
        let result = w.anon_at(&mut s, at, 1024, R, PRIVATE | MapFlags::FIXED | MapFlags::POPULATE);
        w.plan.clear();
        w.check(&[&s], &[]);
        if result.is_err() {
            failed = true;
            assert_eq!(result, Err(MmError::NoMem));
            assert_eq!(Snapshot::of(&[&s], &[], &w.frames), before, "N = {n}");
            assert_eq!(w.read(&mut s, va(at)), Ok(5));
            let zero = w.frames_zero();
            assert!(s.table().entries.values().all(|(f, _)| *f != zero), "N = {n}: zero PTEs left after rollback");
        } else {
            break;
        }
    }
    assert!(failed, "no failure was injected");
    w.teardown(s);
}

#[test]
fn zero_frame_ptes_follow_mprotect_and_mremap() {
    let mut config = World::config();
    config.allow_write_exec = true;
    let mut w = World::new();
    let mut s = w.space_with(config);
    let rx = Prot::READ | Prot::EXEC;
    let a = w.anon(&mut s, 8, rx, PRIVATE | MapFlags::POPULATE);
    // Losing X must reach the zero-frame PTEs (check_space compares X bits).
    w.mprotect(&mut s, a, 8 * PAGE, R).unwrap();
    w.check(&[&s], &[]);
    // PROT_NONE drops them; reads after the protection comes back are zero.
    w.mprotect(&mut s, a, 8 * PAGE, Prot::NONE).unwrap();
    assert!(s.table().entries.is_empty());
    w.mprotect(&mut s, a, 8 * PAGE, R).unwrap();
    assert_eq!(w.read(&mut s, a), Ok(0));
    // A move leaves no zero-frame PTE at the old place.
    let moved = w.mremap(&mut s, a, 8 * PAGE, 16 * PAGE, RemapFlags::MAYMOVE, va(0)).unwrap();
    if moved != a {
        assert!(s.table().entries.keys().all(|n| *n * PAGE >= moved.get()));
    }
    w.check(&[&s], &[]);
    assert_eq!(w.fault(&mut s, moved.add(15 * PAGE), Access::Read), Ok(()));
    w.teardown(s);
}

#[test]
fn the_grant_cap_turns_a_mapping_storm_into_enomem() {
    let mut w = World::new();
    let mut config: SpaceConfig = World::config();
    config.max_grants = 10;
    let mut s = w.space_with(config);
    // Alternating protections cannot merge: one grant per page.
    let base = 0x10_0000u64;
    let mut made = 0;
    let mut result = Ok(va(0));
    for i in 0..64 {
        let prot = if i % 2 == 0 { R } else { RW };
        result = w.anon_at(&mut s, base + i * PAGE, 1, prot, PRIVATE | MapFlags::FIXED);
        if result.is_err() {
            break;
        }
        made += 1;
    }
    assert_eq!(result, Err(MmError::NoMem));
    assert_eq!(made, 10);
    assert_eq!(s.grant_count(), 10);
    w.check(&[&s], &[]);

    // Calls that would cut a grant in two are refused and change nothing.
    let big = w.anon_at(&mut s, base - 64 * PAGE, 1, R, PRIVATE | MapFlags::FIXED);
    assert_eq!(big, Err(MmError::NoMem));
    let mut t = w.space_with(World::config());
    let a = w.anon(&mut t, 8, RW, PRIVATE);
    let mut tight = World::config();
    tight.max_grants = 1;
    let mut u = w.space_with(tight);
    let b = w.anon(&mut u, 8, RW, PRIVATE);
    w.write(&mut u, b.add(4 * PAGE), 9).unwrap();
    let before = Snapshot::of(&[&u], &[], &w.frames);
    assert_eq!(w.munmap(&mut u, b.add(2 * PAGE), PAGE), Err(MmError::NoMem));
    assert_eq!(w.mprotect(&mut u, b.add(2 * PAGE), PAGE, R), Err(MmError::NoMem));
    assert_eq!(w.mremap(&mut u, b, 2 * PAGE, PAGE, RemapFlags::empty(), va(0)), Err(MmError::NoMem));
    assert_eq!(
        w.mremap(&mut u, b.add(4 * PAGE), PAGE, PAGE, RemapFlags::MAYMOVE | RemapFlags::FIXED, va(0x3000_0000)),
        Err(MmError::NoMem)
    );
    assert_eq!(Snapshot::of(&[&u], &[], &w.frames), before);
    // Whole-grant calls still work at the cap.
    w.mprotect(&mut u, b, 8 * PAGE, R).unwrap();
    w.munmap(&mut u, b, 8 * PAGE).unwrap();
    assert_eq!(u.grant_count(), 0);
    w.check(&[&s, &t, &u], &[]);
    let _ = a;
    w.teardown(s);
    w.teardown(t);
    w.teardown(u);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn mmap_request_without_populate_costs_nothing_per_page() {
    let mut w = World::new();
    let mut s = w.space();
    peak_log();
    let a = w.mmap(&mut s, &MmapRequest::anonymous(HUGE * PAGE, RW, PRIVATE)).unwrap();
    assert!(peak_log() < 16);
    w.munmap(&mut s, a, HUGE * PAGE).unwrap();
    w.teardown(s);
}
