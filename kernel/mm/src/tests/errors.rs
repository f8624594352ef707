//! The errors table: every documented failure gives its errno and changes
//! nothing.

use rmm::PhysAddr;

use super::harness::*;
use crate::{AddrSpace, Advice, MapFlags, MapSource, MmError, MmapRequest, MsyncFlags, PhysKind, Prot, RemapFlags};

const FIXED: MapFlags = MapFlags::FIXED;
const MAYMOVE: RemapFlags = RemapFlags::MAYMOVE;

#[test]
fn errno_numbers_are_linux() {
    let table = [
        (MmError::Inval, 22),
        (MmError::NoMem, 12),
        (MmError::Exist, 17),
        (MmError::Access, 13),
        (MmError::Fault, 14),
        (MmError::Unsupported, 95),
        (MmError::Perm, 1),
    ];
    for (error, errno) in table {
        assert_eq!(error.errno(), errno, "{error:?}");
    }
}

#[test]
fn bad_configs_are_refused() {
    let w = World::new();
    let mut zero_min = World::config();
    zero_min.min_addr = va(0);
    let mut no_guard = World::config();
    no_guard.stack_guard_pages = 0;
    let mut misaligned = World::config();
    misaligned.user_end = va(USER_END + 1);
    for config in [zero_min, no_guard, misaligned] {
        assert!(matches!(AddrSpace::new(w.table(), config), Err(MmError::Inval)));
    }
}

#[test]
fn every_failure_gives_its_errno_and_changes_nothing() {
    let mut w = World::new();
    let mut s = w.space();
    let object = new_object(4);
    let a = w.anon_at(&mut s, 0x10_0000, 4, RW, PRIVATE | FIXED | MapFlags::POPULATE).unwrap();
    w.write(&mut s, a, 1).unwrap();
    let b = w.anon_at(&mut s, 0x20_0000, 2, R, SHARED | FIXED).unwrap();
    let phys = MapSource::Physical { phys: PhysAddr::new(0xFE00_0000), kind: PhysKind::Uncached };
    // Two-page leases: shared from a read-only open, and private.
    let file2 = MapSource::File { file: crate::FileMap::new(0, 2, true, false, 0, std::sync::Arc::new(())) };
    let private2 = MapSource::File { file: crate::FileMap::new(0, 2, false, true, 0, std::sync::Arc::new(())) };
    let d = w.mmap(&mut s, &MmapRequest::anonymous(PAGE, RW, SHARED).source(phys.clone()).at(va(0x30_0000))).unwrap();
    assert_eq!(d, va(0x30_0000));
    let before = Snapshot::of(&[&s], &[&object], &w.frames);

    let anon = |len, prot, flags, addr| MmapRequest::anonymous(len, prot, flags).at(va(addr));
    let obj = |offset_bytes, flags| {
        MmapRequest::anonymous(PAGE, RW, flags).source(MapSource::Object { object: object.clone(), offset_bytes })
    };
    let mmaps: Vec<(&str, MmapRequest<'_>, MmError)> = vec![
        ("zero length", anon(0, RW, PRIVATE, 0), MmError::Inval),
        ("length overflow", anon(u64::MAX, RW, PRIVATE, 0), MmError::NoMem),
        ("neither shared nor private", anon(PAGE, RW, MapFlags::empty(), 0), MmError::Inval),
        ("both shared and private", anon(PAGE, RW, SHARED | PRIVATE, 0), MmError::Inval),
        ("fixed misaligned", anon(PAGE, RW, PRIVATE | FIXED, 0x10_0001), MmError::Inval),
        ("fixed at page 0", anon(PAGE, RW, PRIVATE | FIXED, 0), MmError::Perm),
        ("fixed below min_addr", anon(PAGE, RW, PRIVATE | FIXED, MIN_ADDR - PAGE), MmError::Perm),
        ("fixed past user_end", anon(2 * PAGE, RW, PRIVATE | FIXED, USER_END - PAGE), MmError::NoMem),
        ("fixed address overflow", anon(4 * PAGE, RW, PRIVATE | FIXED, u64::MAX - PAGE + 1), MmError::NoMem),
        ("noreplace over a grant", anon(PAGE, RW, PRIVATE | MapFlags::FIXED_NOREPLACE, 0x10_3000), MmError::Exist),
        ("noreplace misaligned", anon(PAGE, RW, PRIVATE | MapFlags::FIXED_NOREPLACE, 0x50_0010), MmError::Inval),
        ("W^X", anon(PAGE, Prot::WRITE | Prot::EXEC, PRIVATE, 0), MmError::Access),
        ("no room", anon(USER_END, R, PRIVATE, 0), MmError::NoMem),
        ("growsdown shared", anon(PAGE, RW, SHARED | MapFlags::GROWSDOWN, 0), MmError::Inval),
        ("object offset misaligned", obj(100, SHARED), MmError::Inval),
        ("object private", obj(0, PRIVATE), MmError::Unsupported),
        ("file lease of another size", anon(PAGE, RW, SHARED, 0).source(file2.clone()), MmError::Inval),
        ("file lease private, mapped shared", anon(2 * PAGE, R, SHARED, 0).source(private2.clone()), MmError::Inval),
        (
            "file read-only, mapped shared writable",
            anon(2 * PAGE, RW, SHARED, 0).source(file2.clone()),
            MmError::Access,
        ),
        ("physical private", anon(PAGE, RW, PRIVATE, 0).source(phys.clone()), MmError::Inval),
        (
            "physical misaligned",
            anon(PAGE, RW, SHARED, 0)
                .source(MapSource::Physical { phys: PhysAddr::new(0xFE00_0010), kind: PhysKind::WriteBack }),
            MmError::Inval,
        ),
    ];
    for (what, request, error) in &mmaps {
        assert_eq!(w.mmap(&mut s, request), Err(*error), "mmap: {what}");
        assert_eq!(Snapshot::of(&[&s], &[&object], &w.frames), before, "mmap: {what} changed something");
    }

    let x = PAGE;
    let munmaps = [
        ("misaligned", 0x10_0001, x, MmError::Inval),
        ("zero length", 0x10_0000, 0, MmError::Inval),
        ("past user_end", USER_END - x, 2 * x, MmError::Inval),
        ("overflow", 0x10_0000, u64::MAX, MmError::Inval),
    ];
    for (what, addr, len, error) in munmaps {
        assert_eq!(w.munmap(&mut s, va(addr), len), Err(error), "munmap: {what}");
    }
    let mprotects = [
        ("misaligned", 0x10_0001, x, R, MmError::Inval),
        ("hole", 0x10_0000, 5 * x, R, MmError::NoMem),
        ("unmapped", 0x90_0000, x, R, MmError::NoMem),
        ("W^X", 0x10_0000, x, Prot::WRITE | Prot::EXEC, MmError::Access),
        ("overflow", 0x10_0000, u64::MAX, R, MmError::Inval),
    ];
    for (what, addr, len, prot, error) in mprotects {
        assert_eq!(w.mprotect(&mut s, va(addr), len, prot), Err(error), "mprotect: {what}");
    }
    let fixed = MAYMOVE | RemapFlags::FIXED;
    let mremaps = [
        ("old misaligned", 0x10_0001, x, x, MAYMOVE, 0, MmError::Inval),
        ("new length zero", 0x10_0000, x, 0, MAYMOVE, 0, MmError::Inval),
        ("fixed without maymove", 0x10_0000, x, x, RemapFlags::FIXED, 0x60_0000, MmError::Inval),
        ("dontunmap without maymove", 0x10_0000, x, x, RemapFlags::DONTUNMAP, 0, MmError::Inval),
        ("fixed misaligned", 0x10_0000, x, x, fixed, 0x60_0010, MmError::Inval),
        ("fixed over the old range", 0x10_0000, 2 * x, 2 * x, fixed, 0x10_1000, MmError::Inval),
        ("fixed past user_end", 0x10_0000, x, 2 * x, fixed, USER_END - x, MmError::Inval),
        ("spans a hole", 0x10_0000, 5 * x, 5 * x, MAYMOVE, 0, MmError::Fault),
        ("unmapped", 0x90_0000, x, x, MAYMOVE, 0, MmError::Fault),
        ("device grows", 0x30_0000, x, 2 * x, MAYMOVE, 0, MmError::Fault),
        ("device dontunmap", 0x30_0000, x, x, MAYMOVE | RemapFlags::DONTUNMAP, 0, MmError::Inval),
        ("blocked, may not move", 0x20_0000, 2 * x, 0x10_0000 + x, RemapFlags::empty(), 0, MmError::NoMem),
        ("zero old length, private", 0x10_0000, 0, x, MAYMOVE, 0, MmError::Inval),
        ("too big to place", 0x10_0000, x, USER_END, MAYMOVE, 0, MmError::NoMem),
    ];
    w.anon_at(&mut s, 0x20_0000 + 0x10_0000 + 2 * x, 1, R, PRIVATE | FIXED).unwrap();
    let before = Snapshot::of(&[&s], &[&object], &w.frames);
    for (what, old, old_len, new_len, flags, new, error) in mremaps {
        assert_eq!(w.mremap(&mut s, va(old), old_len, new_len, flags, va(new)), Err(error), "mremap: {what}");
        assert_eq!(Snapshot::of(&[&s], &[&object], &w.frames), before, "mremap: {what} changed something");
    }
    let madvises = [
        ("misaligned", 0x10_0001, x, Advice::DontNeed, MmError::Inval),
        ("hole", 0x10_0000, 5 * x, Advice::DontNeed, MmError::NoMem),
        ("device", 0x30_0000, x, Advice::DontNeed, MmError::Inval),
    ];
    for (what, addr, len, advice, error) in madvises {
        assert_eq!(w.madvise(&mut s, va(addr), len, advice), Err(error), "madvise: {what}");
    }
    assert_eq!(s.msync(b, x, MsyncFlags::SYNC | MsyncFlags::ASYNC), Err(MmError::Inval));
    assert_eq!(s.msync(va(0x90_0000), x, MsyncFlags::SYNC), Err(MmError::NoMem));
    assert_eq!(Snapshot::of(&[&s], &[&object], &w.frames), before);
    w.check(&[&s], &[&object]);
    w.teardown(s);
    crate::MemObject::release(object, &mut w.frames);
    assert_eq!(w.frames.live(), 0);
}
