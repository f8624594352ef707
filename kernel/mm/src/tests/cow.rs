//! fork: copy-on-write for private memory, sharing for everything else.

use super::harness::*;
use crate::{Access, MapFlags, MapSource, MmapRequest, Shootdown};

#[test]
fn fork_is_copy_on_write_and_each_side_sees_its_own_writes() {
    let mut w = World::new();
    let mut parent = w.space();
    let a = w.anon(&mut parent, 3, RW, PRIVATE);
    w.write(&mut parent, a, 1).unwrap();
    w.write(&mut parent, a.add(PAGE), 2).unwrap();
    w.read(&mut parent, a.add(2 * PAGE)).unwrap(); // zero frame
    let f0 = parent.translate(a).unwrap().0;

    let mut tlb = Shootdown::new();
    let table = w.table();
    let mut child = parent.fork(&mut w.frames, table, &mut tlb).unwrap();
    assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a, 2)], "the parent's write bits are flushed");
    parent.table().flush(&tlb);
    tlb.finish(&mut w.frames);
    assert_eq!(w.frames.refcount_of(f0), 2);
    assert_eq!(child.translate(a).unwrap().0, f0, "the child maps the same frame");
    assert!(!parent.translate(a).unwrap().1.is_writable());
    assert!(!child.translate(a).unwrap().1.is_writable());
    assert_eq!((child.resident_pages(), child.mapped_pages()), (2, 3));
    w.check(&[&parent, &child], &[]);
    // mprotect to RW again must not make the still-shared frames writable.
    w.mprotect(&mut parent, a, 3 * PAGE, R).unwrap();
    w.mprotect(&mut parent, a, 3 * PAGE, RW).unwrap();
    assert!(!parent.translate(a).unwrap().1.is_writable(), "CoW frame made writable by mprotect");
    assert!(!parent.translate(a.add(2 * PAGE)).unwrap().1.is_writable(), "zero frame made writable by mprotect");

    // The child writes: it gets a copy; the parent keeps the old data.
    w.write(&mut child, a, 10).unwrap();
    let copy = child.translate(a).unwrap().0;
    assert_ne!(copy, f0);
    assert_eq!(w.frames.refcount_of(f0), 1);
    assert_eq!(w.read(&mut parent, a), Ok(1));
    assert_eq!(w.read(&mut child, a), Ok(10));
    // The parent writes the page the child let go of: no copy, just the write bit.
    let live = w.frames.live();
    w.write(&mut parent, a, 11).unwrap();
    assert_eq!(parent.translate(a).unwrap().0, f0);
    assert_eq!(w.frames.live(), live);
    // The parent writes a still-shared page: it copies.
    w.write(&mut parent, a.add(PAGE), 20).unwrap();
    assert_eq!(w.read(&mut child, a.add(PAGE)), Ok(2));
    assert_eq!(w.read(&mut parent, a.add(PAGE)), Ok(20));
    assert_eq!(w.read(&mut child, a.add(2 * PAGE)), Ok(0));
    w.check(&[&parent, &child], &[]);
    w.teardown(child);
    w.check(&[&parent], &[]);
    w.teardown(parent);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn shared_anonymous_memory_stays_shared_across_fork() {
    let mut w = World::new();
    let mut parent = w.space();
    let a = w.anon(&mut parent, 2, RW, SHARED);
    w.write(&mut parent, a, 5).unwrap();
    let mut child = w.fork(&mut parent).unwrap();
    assert!(child.translate(a).unwrap().1.is_writable(), "shared pages keep their rights");
    w.write(&mut child, a, 6).unwrap();
    w.write(&mut child, a.add(PAGE), 7).unwrap();
    assert_eq!(w.read(&mut parent, a), Ok(6));
    assert_eq!(w.read(&mut parent, a.add(PAGE)), Ok(7), "a page first touched by the child");
    w.check(&[&parent, &child], &[]);
    // The parent unmaps; the child still has the data; then the object goes.
    w.munmap(&mut parent, a, 2 * PAGE).unwrap();
    assert_eq!(w.read(&mut child, a.add(PAGE)), Ok(7));
    w.check(&[&parent, &child], &[]);
    w.munmap(&mut child, a, 2 * PAGE).unwrap();
    assert_eq!(w.frames.live(), 0, "the object's pages go with its last mapping");
    w.teardown(child);
    w.teardown(parent);
}

#[test]
fn objects_are_shared_between_spaces_and_end_at_their_size() {
    let mut w = World::new();
    let object = new_object(2);
    let mut s1 = w.space();
    let mut s2 = w.space();
    let map = |len| {
        MmapRequest::anonymous(len, RW, SHARED).source(MapSource::Object { object: object.clone(), offset_bytes: 0 })
    };
    let a1 = w.mmap(&mut s1, &map(3 * PAGE)).unwrap();
    let a2 = w.mmap(&mut s2, &map(2 * PAGE)).unwrap();
    w.write(&mut s1, a1.add(PAGE), 9).unwrap();
    assert_eq!(w.read(&mut s2, a2.add(PAGE)), Ok(9));
    assert_eq!(w.read(&mut s1, a1.add(2 * PAGE)), Err(crate::FaultError::Bus), "past the object's end");
    assert_eq!(object.resident_pages(), 1);
    w.check(&[&s1, &s2], &[&object]);
    // DONTNEED on a shared mapping only drops this space's PTEs.
    w.madvise(&mut s1, a1, 2 * PAGE, crate::Advice::DontNeed).unwrap();
    assert_eq!(s1.translate(a1.add(PAGE)), None);
    assert_eq!(w.read(&mut s1, a1.add(PAGE)), Ok(9));
    w.teardown(s1);
    w.teardown(s2);
    assert_eq!(w.frames.live(), 1, "the scheme's handle keeps the object");
    crate::MemObject::release(object, &mut w.frames);
    assert_eq!(w.frames.live(), 0);
}

#[test]
fn an_object_with_given_frames_maps_exactly_those_and_frees_them_with_the_last_mapping() {
    use crate::traits::FrameStore;
    let mut w = World::new();
    let frames: Vec<_> = (0..3).map(|_| w.frames.allocate_zeroed().unwrap()).collect();
    let object = crate::MemObject::with_frames(&frames);
    assert_eq!((object.size_pages(), object.resident_pages()), (3, 3));
    let mut s = w.space();
    let request = MmapRequest::anonymous(3 * PAGE, RW, SHARED | MapFlags::POPULATE)
        .source(MapSource::Object { object: object.clone(), offset_bytes: 0 });
    let a = w.mmap(&mut s, &request).unwrap();
    for (i, &frame) in frames.iter().enumerate() {
        assert_eq!(s.translate(a.add(i as u64 * PAGE)).map(|t| t.0), Some(frame), "page {i}, mapped at once");
    }
    // The request's handle and the scheme's go; the mapping holds its own.
    if let MapSource::Object { object, .. } = request.source {
        crate::MemObject::release(object, &mut w.frames);
    }
    crate::MemObject::release(object, &mut w.frames);
    assert_eq!(w.frames.live(), 3, "the mapping keeps the frames after the handles go");
    w.write(&mut s, a.add(2 * PAGE), 5).unwrap();
    assert_eq!(s.translate(a.add(2 * PAGE)).map(|t| t.0), Some(frames[2]), "a write does not copy");
    w.munmap(&mut s, a, 3 * PAGE).unwrap();
    assert_eq!(w.frames.live(), 0, "the last mapping frees them");
    w.teardown(s);
}

#[test]
fn cow_fault_flushes_the_old_translation_before_dropping_the_frame() {
    let mut w = World::new();
    let mut parent = w.space();
    let a = w.anon(&mut parent, 1, RW, PRIVATE | MapFlags::POPULATE);
    w.write(&mut parent, a, 3).unwrap();
    let mut child = w.fork(&mut parent).unwrap();
    w.read(&mut child, a).unwrap(); // the child's TLB now caches the shared frame
    let shared = child.translate(a).unwrap().0;
    let mut tlb = Shootdown::new();
    child.fault(&mut w.frames, a, Access::Write, &mut tlb).unwrap();
    assert_eq!(tlb.ranges().collect::<Vec<_>>(), vec![(a, 1)]);
    assert_eq!(tlb.deferred_frames(), 1, "the shared frame's reference waits for the flush");
    assert_eq!(w.frames.refcount_of(shared), 2);
    child.table().flush(&tlb);
    tlb.finish(&mut w.frames);
    assert_eq!(w.frames.refcount_of(shared), 1);
    w.check(&[&parent, &child], &[]);
    w.teardown(parent);
    w.teardown(child);
    assert_eq!(w.frames.live(), 0);
}
