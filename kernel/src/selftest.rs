//! Boot-time checks that exercise what boot just set up, and the test-only
//! fault switch (`TESSERA_TEST_FAULT`).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::{arch, env, mm, println};

/// Allocates from the heap and the frame allocator and checks both give
/// their memory back; then faults on purpose if the env asks for it.
pub fn run() {
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
