//! Where arch code calls up into the kernel. The arch layer sits below the
//! rest of the kernel and names none of it: the kernel registers its
//! handlers once at boot ([`set_hooks`], the first thing its entry does),
//! as Asterinas's `ostd` takes the kernel's trap and IRQ callbacks. A hook
//! is a plain function pointer behind a `spin::Once`: the trap path pays
//! one atomic load, no lock.
//!
//! The kernel's entry itself is bound at link time: `kstart` calls
//! `tessera_kernel_main`, which the crate root defines (Asterinas's
//! `__ostd_main`).
//!
//! Shared by both arches (`#[path]` from each `mod.rs`).

use core::fmt::{self, Write};

use rmm::PhysAddr;
use tessera_bootinfo::KernelArgs;

use super::TrapFrame;

/// How a test-mode run ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    Success,
    Failure,
}

/// What a faulting access tried to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

/// A user-mode fault, decoded by the arch code.
pub struct FaultInfo {
    /// The signal it raises (Linux numbering).
    pub signal: usize,
    /// What the CPU reported.
    pub description: &'static str,
    /// The faulting data or instruction address, where there is one.
    pub address: Option<u64>,
    /// For a page fault the address space may resolve (not present, or a
    /// permission fault): what the access was.
    pub access: Option<Access>,
}

/// The kernel's handlers, as the arch code calls them.
pub struct Hooks {
    /// A `syscall` / `svc #0` from user mode (`trap::syscall`).
    pub syscall: fn(&mut TrapFrame),
    /// Any other exception from user mode (`trap::user_fault`).
    pub user_fault: fn(&mut TrapFrame, FaultInfo),
    /// A device interrupt or IPI, by vector / INTID (`trap::interrupt`).
    pub interrupt: fn(&mut TrapFrame, u32),
    /// A TLB-shootdown IPI, before its generic handling (`mm::tlb::handle_ipi`).
    pub tlb_shootdown: fn(),
    /// A secondary CPU, after its arch set-up (`smp::secondary_main`).
    pub secondary_main: fn(usize) -> !,
    /// Stops the machine after a kernel fault (the crate root's `stop`).
    pub stop: fn(ExitCode) -> !,
    /// Prints to the kernel console, under its lock (`console::_print`).
    pub print: fn(fmt::Arguments),
    /// A frame for an arch table (`mm::allocate_frame`).
    #[cfg_attr(
        not(target_arch = "x86_64"),
        allow(dead_code, reason = "only x86_64 allocates arch tables (kpti, the guard probe)")
    )]
    pub allocate_frame: fn() -> Option<PhysAddr>,
    /// Gives such a frame back (`mm::free_frame`).
    #[cfg_attr(
        not(target_arch = "x86_64"),
        allow(dead_code, reason = "only x86_64 allocates arch tables (kpti, the guard probe)")
    )]
    pub free_frame: fn(PhysAddr),
}

static HOOKS: spin::Once<Hooks> = spin::Once::new();

/// Registers the kernel's handlers; only the first call counts.
pub fn set_hooks(hooks: Hooks) {
    HOOKS.call_once(|| hooks);
}

/// The handlers. Nothing traps to the kernel, interrupts or starts a CPU
/// before the kernel's entry registered them.
fn hooks() -> &'static Hooks {
    HOOKS.get().expect("the kernel registers its arch hooks first")
}

unsafe extern "Rust" {
    /// The kernel's entry, once exceptions and the console work.
    // SAFETY: the crate root defines it with this signature (no_mangle).
    safe fn tessera_kernel_main(args: &'static KernelArgs) -> !;
}

/// Enters the kernel proper (from `kstart`).
pub(super) fn enter_kernel(args: &'static KernelArgs) -> ! {
    tessera_kernel_main(args)
}

pub(super) fn syscall(frame: &mut TrapFrame) {
    (hooks().syscall)(frame)
}

pub(super) fn user_fault(frame: &mut TrapFrame, info: FaultInfo) {
    (hooks().user_fault)(frame, info)
}

pub(super) fn interrupt(frame: &mut TrapFrame, id: u32) {
    (hooks().interrupt)(frame, id)
}

pub(super) fn tlb_shootdown() {
    (hooks().tlb_shootdown)()
}

pub(super) fn secondary_main(index: usize) -> ! {
    (hooks().secondary_main)(index)
}

#[cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, reason = "only x86_64 allocates arch tables (kpti, the guard probe)")
)]
pub(super) fn allocate_frame() -> Option<PhysAddr> {
    (hooks().allocate_frame)()
}

#[cfg_attr(
    not(target_arch = "x86_64"),
    allow(dead_code, reason = "only x86_64 allocates arch tables (kpti, the guard probe)")
)]
pub(super) fn free_frame(frame: PhysAddr) {
    (hooks().free_frame)(frame)
}

/// Stops the machine after a kernel fault; before the kernel registered
/// its handlers (a fault in the arch's own set-up), this CPU halts.
pub(super) fn stop(code: ExitCode) -> ! {
    match HOOKS.get() {
        Some(hooks) => (hooks.stop)(code),
        None => super::halt_forever(),
    }
}

/// Prints through the kernel console; straight to the serial port before
/// the kernel registered it.
pub(super) fn print(args: fmt::Arguments) {
    match HOOKS.get() {
        Some(hooks) => (hooks.print)(args),
        None => {
            let _ = SerialWriter.write_fmt(args);
        }
    }
}

/// Writes straight to the serial port, without the console's lock (fault
/// and panic reports, and the console itself under its lock).
pub struct SerialWriter;

impl Write for SerialWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes `bytes` to the serial port, `\n` as `\r\n`.
pub fn write_bytes(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            super::serial::write_byte(b'\r');
        }
        super::serial::write_byte(byte);
    }
}

/// `println!` for arch code: through the kernel console ([`print`]).
macro_rules! arch_println {
    ($($arg:tt)*) => ($crate::arch::hooks::print(format_args!("{}\n", format_args!($($arg)*))));
}
