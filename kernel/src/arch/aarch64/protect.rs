//! PAN and PXN: the CPU refuses EL1 data accesses to pages EL0 may access
//! while PSTATE.PAN is set (Privileged Access Never, ARMv8.1; Arm ARM
//! D5.4.2 "About PSTATE.PAN"), and EL1 instruction fetches from pages
//! marked PXN, which rmm sets on every user page. The kernel never
//! dereferences a user address: user copies (`crate::usercopy`) reach user
//! frames through the physical window, which EL0 cannot access. So PAN
//! stays set in the kernel all the time: SCTLR_EL1.SPAN = 0 makes every
//! exception taken to EL1 set it, and `eret` to EL1 restores it from SPSR.
//!
//! The boot self-test (`crate::selftest`) proves both with [`probe`]: a
//! deliberate kernel load from, and branch into, a mapped user page must
//! fault; the fault handler resumes the probe through [`fixup`].

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::TrapFrame;
pub use super::guard::{Guard, Probe, State};

/// SCTLR_EL1.SPAN (bit 23): when clear, taking an exception to EL1 sets
/// PSTATE.PAN. (RES1 without PAN.)
const SCTLR_SPAN: u64 = 1 << 23;
/// The PAN special register's bit (PSTATE.PAN).
const PAN_BIT: u64 = 1 << 22;

/// CPUs that enabled every protection they were asked for.
static PROTECTED_CPUS: AtomicUsize = AtomicUsize::new(0);
/// Set while a probe runs: only then does [`fixup`] act.
static PROBING: AtomicBool = AtomicBool::new(false);

/// The protections, in the order the self-test line names them. PXN is
/// ARMv8.0 and set in every user entry (rmm's AArch64 format).
pub const GUARDS: [Guard; 2] = [
    Guard { name: "pan", probe: Probe::Read, state: pan_state },
    Guard { name: "pxn", probe: Probe::Execute, state: || State::On },
];

/// What the probe page holds: `ret`.
pub const RETURN_INSTRUCTION: &[u8] = &0xD65F_03C0u32.to_le_bytes();

/// ID_AA64MMFR1_EL1.PAN (bits 23:20) is not 0.
fn pan_implemented() -> bool {
    let mmfr1: u64;
    // SAFETY: reads an ID register.
    unsafe { core::arch::asm!("mrs {}, id_aa64mmfr1_el1", out(reg) mmfr1, options(nomem, nostack)) };
    (mmfr1 >> 20) & 0xF != 0
}

fn sctlr() -> u64 {
    let value: u64;
    // SAFETY: reads a system register.
    unsafe { core::arch::asm!("mrs {}, sctlr_el1", out(reg) value, options(nomem, nostack)) };
    value
}

fn pan_state() -> State {
    if !pan_implemented() {
        return State::Missing;
    }
    let pan: u64;
    // SAFETY: the PAN register (S3_0_C4_C2_3) exists: the CPU has PAN.
    unsafe { core::arch::asm!("mrs {}, S3_0_C4_C2_3", out(reg) pan, options(nomem, nostack)) };
    if pan & PAN_BIT != 0 && sctlr() & SCTLR_SPAN == 0 { State::On } else { State::Off }
}

/// Sets PSTATE.PAN and clears SCTLR_EL1.SPAN on this CPU if it has PAN.
/// Runs on every CPU before it enters EL0; the kernel's tables give EL0 no
/// access to anything the kernel uses, so this changes nothing else.
pub fn init_cpu() {
    if pan_implemented() {
        // SAFETY: only SPAN and PSTATE.PAN change (the CPU has PAN); the
        // ISB makes the SCTLR write take effect before the next exception.
        unsafe {
            core::arch::asm!(
                "mrs {t}, sctlr_el1",
                "bic {t}, {t}, {span}",
                "msr sctlr_el1, {t}",
                "isb",
                "msr S3_0_C4_C2_3, {pan}",
                "isb",
                t = out(reg) _,
                span = in(reg) SCTLR_SPAN,
                pan = in(reg) PAN_BIT,
                options(nostack),
            )
        };
    }
    if GUARDS.iter().all(|g| (g.state)() == State::On) {
        PROTECTED_CPUS.fetch_add(1, Ordering::Relaxed);
    }
}

/// CPUs on which [`init_cpu`] enabled every guard.
pub fn protected_cpus() -> usize {
    PROTECTED_CPUS.load(Ordering::Relaxed)
}

// The probes. `hwprot_probe_read` loads from the address; `hwprot_probe_execute`
// branches to it with link. Each returns 0 if the access completed; if it
// faulted, `fixup` resumes at `hwprot_probe_read_faulted` /
// `hwprot_probe_execute_faulted` with x0 = FAULTED | ESR_EL1.
core::arch::global_asm!(
    r#"
.section .text
.global hwprot_probe_read
hwprot_probe_read:
hwprot_probe_read_access:
    ldr x0, [x0]
    mov x0, #0
hwprot_probe_read_faulted:
    ret
.global hwprot_probe_execute
hwprot_probe_execute:
    stp x29, x30, [sp, #-16]!
    blr x0
hwprot_probe_execute_back:
    mov x0, #0
hwprot_probe_execute_faulted:
    ldp x29, x30, [sp], #16
    ret
"#
);

unsafe extern "C" {
    fn hwprot_probe_read(addr: u64) -> u64;
    fn hwprot_probe_execute(addr: u64) -> u64;
    static hwprot_probe_read_access: u8;
    static hwprot_probe_read_faulted: u8;
    static hwprot_probe_execute_back: u8;
    static hwprot_probe_execute_faulted: u8;
}

/// Marks a probe's result as a fault (the low bits are ESR_EL1).
const FAULTED: u64 = 1 << 63;

/// Accesses `addr` from EL1 as `probe` says; `Some(ESR_EL1)` if it
/// aborted, `None` if the access went through.
///
/// # Safety
/// `addr` must be a mapped user page of the active table holding
/// [`RETURN_INSTRUCTION`] (so an access that is allowed is harmless);
/// interrupts are masked.
pub unsafe fn probe(probe: Probe, addr: u64) -> Option<u64> {
    PROBING.store(true, Ordering::SeqCst);
    // SAFETY: per the contract; an abort comes back through `fixup`.
    let result = unsafe {
        match probe {
            Probe::Read => hwprot_probe_read(addr),
            Probe::Execute => hwprot_probe_execute(addr),
        }
    };
    PROBING.store(false, Ordering::SeqCst);
    (result & FAULTED != 0).then_some(result & !FAULTED)
}

/// For a synchronous exception at EL1: if a probe caused it, makes `frame`
/// resume the probe with the abort reported, and says so. Anything else is
/// left alone (a real kernel fault).
pub fn fixup(frame: &mut TrapFrame) -> bool {
    if !PROBING.load(Ordering::SeqCst) {
        return false;
    }
    let ec = frame.esr >> 26;
    if ec == 0x25 && frame.elr == (&raw const hwprot_probe_read_access) as u64 {
        // A data abort, same EL, at the probe's load.
        frame.elr = (&raw const hwprot_probe_read_faulted) as u64;
    } else if ec == 0x21 && frame.elr == frame.far && frame.x[30] == (&raw const hwprot_probe_execute_back) as u64 {
        // An instruction abort, same EL, at the address the probe branched to.
        frame.elr = (&raw const hwprot_probe_execute_faulted) as u64;
    } else {
        return false;
    }
    frame.x[0] = FAULTED | frame.esr;
    true
}

/// Runs `f` with the user table `root` in TTBR0_EL1 (the kernel is in
/// TTBR1_EL1 all the time), under ASID 0. The caller loads the kernel-only
/// table again, which then drops this CPU's ASID-0 entries (they are the
/// probe table's: `asid::dirty_asid0`).
///
/// # Safety
/// `root` must be a user table that no CPU changes meanwhile.
pub unsafe fn with_user_table<R>(root: rmm::PhysAddr, f: impl FnOnce() -> R) -> R {
    // SAFETY: per the contract.
    unsafe { super::activate_user_table(root) };
    super::asid::dirty_asid0(super::cpu_index());
    f()
}

/// Nothing to report: a user table (TTBR0_EL1) holds the user half only.
pub fn isolation(_root: rmm::PhysAddr) -> Option<alloc::string::String> {
    None
}
