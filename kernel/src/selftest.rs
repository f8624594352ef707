//! Boot-time checks that exercise what boot just set up, and the test-only
//! fault switch (`TESSERA_TEST_FAULT`).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;

use rmm::VirtAddr;
use tessera_bootinfo::phys_to_virt;
use tessera_mm::Prot;

use crate::arch::protect::{self, State};
use crate::{arch, env, mm, println};

/// Allocates from the heap and the frame allocator and checks both give
/// their memory back; checks that the CPU keeps the kernel out of user
/// memory ([`user_memory_guards`], on `cpus` running CPUs); then faults on
/// purpose if the env asks for it.
pub fn run(cpus: usize) {
    let frames_before = mm::free_frames();
    let heap_before = mm::heap_used_bytes();
    {
        let v: Vec<u64> = (0..4096).collect();
        assert_eq!(v.iter().sum::<u64>(), 4095 * 4096 / 2, "heap data corrupted");
        let b = Box::new([0xA5u8; 8192]);
        assert!(b.iter().all(|&x| x == 0xA5), "heap data corrupted");
        let frame = mm::allocate_frame().expect("a free frame");
        mm::free_frame(frame);
    }
    assert_eq!(mm::heap_used_bytes(), heap_before, "heap leaked");
    assert_eq!(mm::free_frames(), frames_before, "frames leaked");
    zeroed_pool();

    // The first probe's page fault may make the shared zero frame, which
    // stays for good; the second must give back every frame it took.
    drop(user_memory_guards(cpus));
    let frames_before = mm::free_frames();
    let (guards, isolation) = user_memory_guards(cpus);
    println!("selftest: {guards}");
    if let Some(isolation) = &isolation {
        println!("selftest: {isolation}");
    }
    drop((guards, isolation));
    assert_eq!(mm::heap_used_bytes(), heap_before, "the user-memory guard probe leaked heap");
    assert_eq!(mm::free_frames(), frames_before, "the user-memory guard probe leaked frames");

    match env::get("TESSERA_TEST_FAULT") {
        None => {}
        Some("page") => {
            println!("selftest: faulting on purpose (TESSERA_TEST_FAULT=page)");
            arch::fault_page();
        }
        Some("undefined") => {
            println!("selftest: faulting on purpose (TESSERA_TEST_FAULT=undefined)");
            arch::fault_undefined();
        }
        Some(other) => println!("selftest: unknown TESSERA_TEST_FAULT={other}; ignored"),
    }
}

/// The zeroed pool (`mm::zero_idle_frames`): a frame zeroed for it and
/// taken back out is zero in every byte (its first word held the pool's
/// link), and the free count does not move while frames go in and out.
fn zeroed_pool() {
    let frames_before = mm::free_frames();
    // Another CPU may have filled the pool already; with very little
    // memory it stays empty (the bitmap keeps a reserve).
    mm::zero_idle_frames(1);
    assert_eq!(mm::free_frames(), frames_before, "a frame in the pool counts as free");
    let [pooled, _, hits_before, ..] = mm::pool_stats();
    let frame = mm::allocate_zeroed().expect("a zeroed frame");
    let [_, _, hits, ..] = mm::pool_stats();
    assert_eq!(hits > hits_before, pooled > 0, "allocate_zeroed takes its frame from the pool when it has one");
    // SAFETY: a frame this function owns, mapped in the physical window.
    let words = unsafe { core::slice::from_raw_parts(phys_to_virt(frame.get()) as *const u64, 512) };
    assert!(words.iter().all(|&w| w == 0), "a frame from the zeroed pool is not zero");
    mm::free_frame(frame);
    assert_eq!(mm::free_frames(), frames_before, "the zeroed-pool check leaked a frame");
}

/// Where the guard probe maps its user page.
const PROBE_PAGE: VirtAddr = VirtAddr::new(0x4000_0000);

/// The hardware guards that keep the kernel out of user memory (x86_64:
/// SMEP and SMAP; aarch64: PAN and PXN), checked for real: with a user
/// page mapped that holds a return instruction, each guard's probe (a
/// kernel load from the page, a kernel call into it) must fault. Returns
/// the report: `smep on, smap on (every CPU)` when every guard holds and
/// every CPU enabled them all; otherwise each guard that does not hold says
/// why, and the tail how many CPUs enabled them all. Also what a user root
/// maps of the kernel, where the arch reports it (x86_64: `kpti on (...)`).
fn user_memory_guards(cpus: usize) -> (String, Option<String>) {
    let mut space = mm::UserSpace::new(Arc::new(mm::FailInjector::default())).expect("memory for the probe space");
    // Writable while the kernel fills it (a read-only private page would
    // be the shared zero frame), then read and execute, as exec does
    // (which also makes the instruction visible to fetches).
    space.map_populated(PROBE_PAGE, 1, Prot::READ | Prot::WRITE, false).expect("memory for the probe page");
    space.write_bytes(PROBE_PAGE, protect::RETURN_INSTRUCTION).expect("the probe page is mapped");
    space.protect(PROBE_PAGE, 1, Prot::READ | Prot::EXEC).expect("the probe page can be made executable");
    let mut line = String::new();
    // SAFETY: no other CPU uses the probe space, and the kernel-only table
    // is back before it is freed (which drops this CPU's entries for it).
    unsafe {
        protect::with_user_table(space.root(), || {
            for (i, guard) in protect::GUARDS.iter().enumerate() {
                // SAFETY: PROBE_PAGE is mapped in the active table and holds
                // RETURN_INSTRUCTION; interrupts are off in the kernel.
                let fault = protect::probe(guard.probe, PROBE_PAGE.get());
                let sep = if i == 0 { "" } else { ", " };
                let name = guard.name;
                let _ = match ((guard.state)(), fault) {
                    (State::On, Some(_)) => write!(line, "{sep}{name} on"),
                    (State::Missing, _) => write!(line, "{sep}{name} off (the CPU lacks it)"),
                    (State::Off, _) => write!(line, "{sep}{name} off (not enabled)"),
                    (State::On, None) => {
                        write!(line, "{sep}{name} off (enabled, yet the kernel's access went through)")
                    }
                };
            }
        })
    };
    mm::activate_kernel_only();
    let isolation = protect::isolation(space.root());
    drop(space);
    let protected = protect::protected_cpus();
    if protected >= cpus {
        line.push_str(" (every CPU)");
    } else {
        let _ = write!(line, " (this CPU; only {protected} of {cpus} CPUs enabled them all)");
    }
    (line, isolation)
}
