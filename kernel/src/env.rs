//! The kernel environment the loader passed (`KEY=value` lines), and the
//! switches read from it:
//!
//! | key | meaning |
//! |---|---|
//! | `TESSERA_TEST` | set in test images: exit QEMU with a status instead of idling |
//! | `TESSERA_TEST_FAULT` | test-only: `page` or `undefined` makes the kernel fault on purpose after boot, to prove fault reports work |
//! | `TESSERA_KPTI` | x86_64: `on` / `off` forces page-table isolation on or off; `auto` or unset, it follows the CPU (`arch::x86_64::kpti::decide`) |
//! | `TESSERA_ASIDS` | aarch64, a test setting: use only this many ASIDs (`arch::aarch64::asid`) |

use core::sync::atomic::{AtomicBool, Ordering};

use spin::Once;
use tessera_bootinfo::{KernelArgs, phys_to_virt};

static TEXT: Once<&'static str> = Once::new();
/// Read by the panic and fault paths, which must not touch locks.
static TEST_MODE: AtomicBool = AtomicBool::new(false);

/// Reads the env text (invalid UTF-8 leaves it empty, with a warning).
pub fn init(args: &KernelArgs) {
    // SAFETY: the loader put env_size_bytes bytes of kernel-owned memory at
    // env_phys, reachable through the physical map, and nothing frees it.
    let bytes =
        unsafe { core::slice::from_raw_parts(phys_to_virt(args.env_phys) as *const u8, args.env_size_bytes as usize) };
    let text = match core::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            crate::println!("env: not UTF-8; ignored");
            ""
        }
    };
    TEXT.call_once(|| text);
    TEST_MODE.store(get("TESSERA_TEST").is_some(), Ordering::Relaxed);
}

/// The value of `key`, if set.
pub fn get(key: &str) -> Option<&'static str> {
    tessera_bootinfo::env::lookup(TEXT.get()?, key)
}

/// Whether this is a test image.
pub fn test_mode() -> bool {
    TEST_MODE.load(Ordering::Relaxed)
}
