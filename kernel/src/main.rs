//! The Tessera microkernel.
//!
//! Boot sequence ([`start`]): the loader jumps to the arch entry with a
//! [`KernelArgs`]; the arch code installs exception handlers and the serial
//! console; then the kernel prints its banner, takes over physical memory
//! (frame allocator), builds and switches to its own page tables, starts its
//! heap, counts CPUs and reports `kernel: boot ok`. In a test image
//! (`TESSERA_TEST` set in the env) it then exits QEMU with a status.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

#[cfg_attr(target_arch = "x86_64", path = "arch/x86_64/mod.rs")]
#[cfg_attr(target_arch = "aarch64", path = "arch/aarch64/mod.rs")]
mod arch;
mod console;
mod env;
mod mm;
mod panic;
mod selftest;

use tessera_bootinfo::KernelArgs;

/// Package version and git commit.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TESSERA_COMMIT"), ")");

/// How a test-mode run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    Failure,
}

/// Stops the machine: in a test image QEMU exits with `code`; otherwise the
/// CPU idles forever.
pub fn stop(code: ExitCode) -> ! {
    if env::test_mode() {
        arch::exit_qemu(code);
    }
    arch::halt_forever()
}

/// Called by the arch entry once exceptions and the console work.
fn start(args: &'static KernelArgs) -> ! {
    println!("kernel: entered");
    assert!(
        args.magic == KernelArgs::MAGIC && args.version == KernelArgs::VERSION,
        "the loader speaks boot protocol {:#x}/v{}, the kernel {:#x}/v{}: rebuild both from one tree",
        args.magic,
        args.version,
        KernelArgs::MAGIC,
        KernelArgs::VERSION
    );
    env::init(args);
    println!("Tessera {VERSION} on {}", arch::NAME);

    let memory = mm::init(args);
    println!(
        "memory: {} MiB total, {} MiB free ({} areas); kernel {} KiB at {:#x}",
        memory.total_bytes >> 20,
        memory.free_bytes >> 20,
        args.areas_count,
        args.kernel_size_bytes >> 10,
        args.kernel_phys
    );
    match arch::cpu_count(args) {
        Ok(cpus) => println!("cpus: {cpus} ({})", arch::CPU_SOURCE),
        Err(why) => println!("cpus: unknown ({why})"),
    }
    println!("initfs: {} bytes at {:#x}", args.initfs_size_bytes, args.initfs_phys);

    selftest::run();
    println!("kernel: boot ok");
    stop(ExitCode::Success)
}
