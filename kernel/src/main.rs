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
mod config;
mod console;
mod env;
mod exec;
mod file;
mod futex;
mod irq;
mod loader;
mod mm;
mod panic;
mod pci;
mod process;
mod sched;
mod scheme;
mod selftest;
mod smp;
mod sync;
mod syscall;
mod trap;
mod usercopy;
// Linked for its `memcpy`, `memmove` and `memset` symbols (and called by
// name for whole frames, arch/x86_64/page.rs).
use tessera_memops as _;

use alloc::string::String;
use alloc::sync::Arc;

use tessera_abi::flag::O_RDWR;
use tessera_abi::wait;
use tessera_bootinfo::KernelArgs;

/// Package version and git commit.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TESSERA_COMMIT"), ")");

pub use arch::ExitCode;

/// Stops the machine: in a test image QEMU exits with `code`; otherwise the
/// CPU idles forever.
pub fn stop(code: ExitCode) -> ! {
    if env::test_mode() {
        arch::exit_qemu(code);
    }
    arch::halt_forever()
}

/// How long the firmware gets to power off or reset before the kernel
/// gives up and halts.
const POWER_GRACE_NS: u64 = 1_000_000_000;

/// What `sys:power` asks for.
#[derive(Clone, Copy)]
pub enum PowerAction {
    Off,
    Reset,
}

/// Powers off or resets the machine (`sys:power`). A test image ends QEMU
/// as a pass instead, as when init exits with 0. If the firmware does not
/// act, this CPU halts.
pub fn power(action: PowerAction) -> ! {
    let what = match action {
        PowerAction::Off => "power off",
        PowerAction::Reset => "reset",
    };
    println!("kernel: {what}");
    if env::test_mode() {
        arch::exit_qemu(ExitCode::Success);
    }
    match action {
        PowerAction::Off => arch::power_off(),
        PowerAction::Reset => arch::reset(),
    }
    // The machine may take a moment to act on the request (QEMU does the
    // ACPI power off after the port write returns).
    let asked = arch::time::monotonic_ns();
    while arch::time::monotonic_ns().saturating_sub(asked) < POWER_GRACE_NS {
        core::hint::spin_loop();
    }
    println!("kernel: the firmware did not {what}; halting");
    arch::halt_forever()
}

/// The kernel's entry: the arch entry (`kstart`) calls it once exceptions
/// and the serial port work (`arch::hooks`).
#[unsafe(no_mangle)]
fn tessera_kernel_main(args: &'static KernelArgs) -> ! {
    start(args)
}

/// Registers the kernel's handlers with the arch layer, then boots.
fn start(args: &'static KernelArgs) -> ! {
    arch::set_hooks(arch::Hooks {
        syscall: trap::syscall,
        user_fault: trap::user_fault,
        interrupt: trap::interrupt,
        tlb_shootdown: mm::tlb::handle_ipi,
        secondary_main: smp::secondary_main,
        stop,
        print: console::_print,
        allocate_frame: mm::allocate_frame,
        free_frame: mm::free_frame,
    });
    sync::set_serve_hook(mm::tlb::serve_pending);
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
    if let Err(why) = arch::init_power(args) {
        println!("power: no firmware power control ({why}); power off halts");
    }
    pci::init(args);
    scheme::init_initfs(args);
    scheme::init();
    start_time(args);
    let cpus = smp::start_secondary_cpus(args);
    mm::tlb::selftest(cpus);

    selftest::run(cpus);
    println!("kernel: boot ok");
    run_init()
}

/// Time-slice length: one timer tick.
pub const TICK_NS: u64 = 10_000_000;

/// Interrupt controller, clocks and the periodic tick on the boot CPU.
fn start_time(args: &KernelArgs) {
    let irq = arch::irq::init(args).and_then(|()| arch::irq::init_cpu());
    match irq {
        Ok(()) => {
            // IPIs can arrive from here on: the CPU joins the TLB shootdowns.
            mm::tlb::cpu_ready();
            arch::time::init(args);
            arch::time::selftest();
            arch::irq::start_timer(TICK_NS);
            println!("timer: {} ms ticks", TICK_NS / 1_000_000);
        }
        Err(why) => panic!("interrupt controller: {why}"),
    }
}

/// Where the first program lives.
const INIT_PATH: &str = "initfs:bin/init";

/// Starts init with fds 0, 1 and 2 on the console and runs processes until
/// init ends; in a test image QEMU then exits with init's verdict.
fn run_init() -> ! {
    let image = loader::ProgramFile::open(INIT_PATH)
        .and_then(|program| exec::load(&program, &[String::from(INIT_PATH)], &[], Default::default()));
    let image = match image {
        Ok(image) => image,
        Err(e) => {
            println!("kernel: cannot start {INIT_PATH}: {e}; nothing to run");
            stop(ExitCode::Success)
        }
    };
    let mut files = file::FileTable::default();
    for fd in 0..3 {
        let (console, path) = scheme::resolve("debug:").expect("debug: is registered");
        let id = console.open(path, O_RDWR).expect("debug: opens");
        let description = Arc::new(file::Description { scheme: console, id, flags: O_RDWR });
        files.insert_at(fd, file::FileHandle { description, cloexec: false }).expect("fd 0-2");
    }
    let init = process::spawn_init(image.space, files, image.entry, image.stack_pointer)
        .unwrap_or_else(|e| panic!("cannot create init: {e}"));
    sched::run(|| !process::init_alive());
    let status = match *init.state.lock() {
        process::State::Zombie(status) => status,
        process::State::Alive => unreachable!("run() returns once init has ended"),
    };
    if wait::if_exited(status) {
        println!("kernel: init exited with status {}", wait::exit_status(status));
    } else {
        println!("kernel: init was killed by signal {}", wait::term_signal(status));
    }
    let ok = wait::if_exited(status) && wait::exit_status(status) == 0;
    stop(if ok { ExitCode::Success } else { ExitCode::Failure })
}
