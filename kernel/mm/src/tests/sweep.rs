//! Allocation-failure sweeps: for each operation that allocates, make the
//! N-th allocation (frame or page-table page) fail for N = 0, 1, … until the
//! operation succeeds, and check after every failure that spaces, PTEs,
//! slots, reference counts, frame contents and objects are exactly as
//! before, and that the operation then succeeds when retried.

use super::harness::*;
use crate::{Access, MapFlags, MapSource, MmapRequest, PhysKind, RemapFlags, SharedObject};

/// Two megabytes: a fake leaf table's reach, so ranges crossing it need a
/// new table.
const TABLE: u64 = 0x20_0000;

struct State {
    spaces: Vec<Space>,
    objects: Vec<SharedObject>,
}

impl State {
    fn refs(&self) -> (Vec<&Space>, Vec<&SharedObject>) {
        (self.spaces.iter().collect(), self.objects.iter().collect())
    }
}

/// Runs the sweep; returns how many failures were exercised.
fn sweep(setup: impl Fn(&mut World) -> State, op: impl Fn(&mut World, &mut State) -> Result<(), String>) -> u64 {
    for n in 0.. {
        let mut w = World::new();
        let mut state = setup(&mut w);
        let before = {
            let (spaces, objects) = state.refs();
            w.check(&spaces, &objects);
            Snapshot::of(&spaces, &objects, &w.frames)
        };
        w.plan.fail_in(n);
        let result = op(&mut w, &mut state);
        w.plan.clear();
        let (spaces, objects) = state.refs();
        w.check(&spaces, &objects);
        match result {
            Ok(()) => {
                assert_eq!(w.plan.failures(), 0, "N = {n}: an allocation failed but the operation succeeded");
                assert!(n > 0, "the operation allocates nothing: the sweep tests nothing");
                finish(&mut w, state);
                return n;
            }
            Err(error) => {
                assert_eq!(w.plan.failures(), 1, "N = {n}: failed ({error}) without an allocation failure");
                assert_eq!(Snapshot::of(&spaces, &objects, &w.frames), before, "N = {n}: not as before after {error}");
                op(&mut w, &mut state).unwrap_or_else(|e| panic!("N = {n}: retry failed: {e}"));
                let (spaces, objects) = state.refs();
                w.check(&spaces, &objects);
                finish(&mut w, state);
            }
        }
    }
    unreachable!()
}

fn finish(w: &mut World, state: State) {
    for space in state.spaces {
        w.teardown(space);
    }
    for object in state.objects {
        crate::MemObject::release(object, &mut w.frames);
    }
    assert_eq!(w.frames.live(), 0, "frames leaked");
}

/// A space with private (written, zero-frame, PROT_NONE), shared and device
/// pages spread over two leaf tables.
fn busy_space(w: &mut World) -> State {
    let mut s = w.space();
    let a = w.anon_at(&mut s, TABLE - 3 * PAGE, 6, RW, PRIVATE | MapFlags::FIXED).unwrap();
    for i in [0, 1, 3, 5] {
        w.write(&mut s, a.add(i * PAGE), 10 + i).unwrap();
    }
    w.read(&mut s, a.add(2 * PAGE)).unwrap();
    let b = w.anon_at(&mut s, 2 * TABLE, 3, RW, SHARED | MapFlags::FIXED).unwrap();
    w.write(&mut s, b, 7).unwrap();
    w.write(&mut s, b.add(2 * PAGE), 8).unwrap();
    let device = MapSource::Physical { phys: rmm::PhysAddr::new(0xFE00_0000), kind: PhysKind::Uncached };
    w.mmap(&mut s, &MmapRequest::anonymous(2 * PAGE, RW, SHARED).source(device).at(va(3 * TABLE))).unwrap();
    let n = w.anon_at(&mut s, 4 * TABLE, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
    w.write(&mut s, n, 9).unwrap();
    w.mprotect(&mut s, n, 2 * PAGE, crate::Prot::NONE).unwrap();
    State { spaces: vec![s], objects: vec![] }
}

fn show<E: core::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

#[test]
fn mmap_populate_private() {
    let n = sweep(busy_space, |w, st| {
        let request = MmapRequest::anonymous(8 * PAGE, RW, PRIVATE | MapFlags::POPULATE).at(va(6 * TABLE - 4 * PAGE));
        w.mmap(&mut st.spaces[0], &request).map(drop).map_err(show)
    });
    assert!(n >= 10, "8 frames + new tables: {n}");
}

#[test]
fn mmap_populate_shared_anonymous_and_object() {
    sweep(busy_space, |w, st| {
        let request = MmapRequest::anonymous(4 * PAGE, RW, SHARED | MapFlags::POPULATE).at(va(6 * TABLE - 2 * PAGE));
        w.mmap(&mut st.spaces[0], &request).map(drop).map_err(show)
    });
    // An existing object with one page already there.
    let setup = |w: &mut World| {
        let mut state = busy_space(w);
        let object = new_object(5);
        let request = MmapRequest::anonymous(PAGE, RW, SHARED)
            .source(MapSource::Object { object: object.clone(), offset_bytes: 2 * PAGE });
        let o = w.mmap(&mut state.spaces[0], &request).unwrap();
        w.write(&mut state.spaces[0], o, 3).unwrap();
        state.objects.push(object);
        state
    };
    sweep(setup, |w, st| {
        let source = MapSource::Object { object: st.objects[0].clone(), offset_bytes: 0 };
        let request = MmapRequest::anonymous(6 * PAGE, RW, SHARED | MapFlags::POPULATE)
            .source(source)
            .at(va(7 * TABLE - 3 * PAGE));
        w.mmap(&mut st.spaces[0], &request).map(drop).map_err(show)
    });
}

#[test]
fn map_fixed_replace_with_populate() {
    let n = sweep(busy_space, |w, st| {
        let request = MmapRequest::anonymous(8 * PAGE, RW, PRIVATE | MapFlags::FIXED | MapFlags::POPULATE)
            .at(va(TABLE - 4 * PAGE));
        w.mmap(&mut st.spaces[0], &request).map(drop).map_err(show)
    });
    assert!(n >= 8);
}

#[test]
fn fork() {
    let n = sweep(busy_space, |w, st| {
        let child = w.fork(&mut st.spaces[0]).map_err(show)?;
        st.spaces.push(child);
        Ok(())
    });
    assert!(n >= 4, "the child's tables: {n}");
    // And a second-generation fork from a space that already shares frames.
    let setup = |w: &mut World| {
        let mut state = busy_space(w);
        let child = w.fork(&mut state.spaces[0]).unwrap();
        state.spaces.push(child);
        state
    };
    sweep(setup, |w, st| {
        let grandchild = w.fork(&mut st.spaces[1]).map_err(show)?;
        st.spaces.push(grandchild);
        Ok(())
    });
}

#[test]
fn cow_and_demand_faults() {
    let forked = |w: &mut World| {
        let mut state = busy_space(w);
        let child = w.fork(&mut state.spaces[0]).unwrap();
        state.spaces.push(child);
        state
    };
    // Copy-on-write in the child.
    sweep(forked, |w, st| w.fault(&mut st.spaces[1], va(TABLE - 2 * PAGE), Access::Write).map_err(show));
    // Demand zero in a region whose leaf table does not exist yet.
    let far = |w: &mut World| {
        let mut state = busy_space(w);
        w.anon_at(&mut state.spaces[0], 8 * TABLE - PAGE, 2, RW, PRIVATE | MapFlags::FIXED).unwrap();
        state
    };
    sweep(far, |w, st| w.fault(&mut st.spaces[0], va(8 * TABLE), Access::Write).map_err(show));
    sweep(far, |w, st| w.fault(&mut st.spaces[0], va(8 * TABLE), Access::Read).map_err(show));
    // A shared-object page first touched in a new table region.
    let shared_far = |w: &mut World| {
        let mut state = busy_space(w);
        w.anon_at(&mut state.spaces[0], 8 * TABLE - PAGE, 2, RW, SHARED | MapFlags::FIXED).unwrap();
        state
    };
    sweep(shared_far, |w, st| w.fault(&mut st.spaces[0], va(8 * TABLE), Access::Write).map_err(show));
    // Stack growth into a new table region.
    let stack = |w: &mut World| {
        let mut state = busy_space(w);
        let flags = PRIVATE | MapFlags::FIXED | MapFlags::GROWSDOWN;
        w.anon_at(&mut state.spaces[0], 10 * TABLE, 1, RW, flags).unwrap();
        state
    };
    sweep(stack, |w, st| w.fault(&mut st.spaces[0], va(10 * TABLE - 2 * PAGE), Access::Write).map_err(show));
}

#[test]
fn mremap_move() {
    let n = sweep(busy_space, |w, st| {
        let flags = RemapFlags::MAYMOVE | RemapFlags::FIXED;
        w.mremap(&mut st.spaces[0], va(TABLE - 3 * PAGE), 6 * PAGE, 8 * PAGE, flags, va(12 * TABLE - 2 * PAGE))
            .map(drop)
            .map_err(show)
    });
    assert!(n >= 2);
    sweep(busy_space, |w, st| {
        let flags = RemapFlags::MAYMOVE | RemapFlags::FIXED | RemapFlags::DONTUNMAP;
        w.mremap(&mut st.spaces[0], va(2 * TABLE), 3 * PAGE, 3 * PAGE, flags, va(13 * TABLE - PAGE))
            .map(drop)
            .map_err(show)
    });
    sweep(busy_space, |w, st| {
        let flags = RemapFlags::MAYMOVE | RemapFlags::FIXED;
        w.mremap(&mut st.spaces[0], va(3 * TABLE), 2 * PAGE, 2 * PAGE, flags, va(14 * TABLE - PAGE))
            .map(drop)
            .map_err(show)
    });
}
