//! SMEP and SMAP: the CPU refuses to let ring 0 execute (SMEP) or read and
//! write (SMAP) a page that user mode may access (Intel SDM Vol. 3A §4.6
//! "Access Rights"). The kernel never dereferences a user address: user
//! copies (`crate::usercopy`) reach user frames through the physical
//! window, which is supervisor-only. So the kernel never opens the SMAP
//! window (`stac`): RFLAGS.AC stays clear in ring 0, and any kernel access
//! through a user address faults. AC is user-controlled, so every way in
//! clears it: `syscall` through IA32_FMASK, interrupts and exceptions with
//! `clac` in [`on_entry`].
//!
//! The boot self-test (`crate::selftest`) proves both with [`probe`]: a
//! deliberate kernel read of, and call into, a mapped user page must fault;
//! the fault handler resumes the probe through [`fixup`]. The probes run on
//! a temporary root with both halves ([`with_user_table`]): the kernel root
//! has no user half, and a user root no kernel (`kpti`), which
//! [`isolation`] checks.

use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::TrapFrame;
pub use super::guard::{Guard, Probe, State};

/// CR4.SMEP (bit 20) and CR4.SMAP (bit 21).
const CR4_SMEP: u64 = 1 << 20;
const CR4_SMAP: u64 = 1 << 21;
/// CPUID.(EAX=7, ECX=0):EBX bits for SMEP and SMAP.
const CPUID7_EBX_SMEP: u32 = 1 << 7;
const CPUID7_EBX_SMAP: u32 = 1 << 20;

/// Whether SMAP is on (on every CPU: set by the boot CPU, which enables
/// it first; a secondary CPU without it cannot run `clac`).
static SMAP_ON: AtomicBool = AtomicBool::new(false);
/// CPUs that enabled every protection they were asked for.
static PROTECTED_CPUS: AtomicUsize = AtomicUsize::new(0);
/// Set while a probe runs: only then does [`fixup`] act.
static PROBING: AtomicBool = AtomicBool::new(false);

/// The protections, in the order the self-test line names them.
pub const GUARDS: [Guard; 2] = [
    Guard { name: "smep", probe: Probe::Execute, state: || state(CPUID7_EBX_SMEP, CR4_SMEP) },
    Guard { name: "smap", probe: Probe::Read, state: || state(CPUID7_EBX_SMAP, CR4_SMAP) },
];

/// What the probe page holds: `ret`.
pub const RETURN_INSTRUCTION: &[u8] = &[0xC3];

/// The structured-extended-features EBX (0 if leaf 7 is missing).
fn cpuid7_ebx() -> u32 {
    if core::arch::x86_64::__cpuid(0).eax < 7 {
        return 0;
    }
    core::arch::x86_64::__cpuid_count(7, 0).ebx
}

fn cr4() -> u64 {
    let value: u64;
    // SAFETY: reading CR4 has no side effects.
    unsafe { core::arch::asm!("mov {}, cr4", out(reg) value, options(nomem, nostack)) };
    value
}

fn state(cpuid_bit: u32, cr4_bit: u64) -> State {
    if cpuid7_ebx() & cpuid_bit == 0 {
        State::Missing
    } else if cr4() & cr4_bit == 0 {
        State::Off
    } else {
        State::On
    }
}

/// Enables SMEP and SMAP on this CPU where it has them. Runs on every CPU
/// before it enters user mode; the kernel's tables map nothing user-accessible
/// the kernel runs or touches, so turning them on changes nothing else.
pub fn init_cpu() {
    let ebx = cpuid7_ebx();
    let mut want = 0;
    if ebx & CPUID7_EBX_SMEP != 0 {
        want |= CR4_SMEP;
    }
    if ebx & CPUID7_EBX_SMAP != 0 {
        want |= CR4_SMAP;
        // RFLAGS.AC is clear: the kernel never sets it, and the entry
        // from the loader (or the AP trampoline) has it clear.
    }
    // SAFETY: only the SMEP/SMAP bits are added; see above.
    unsafe {
        core::arch::asm!("mov {t}, cr4", "or {t}, {w}", "mov cr4, {t}", t = out(reg) _, w = in(reg) want, options(nostack))
    };
    if want & CR4_SMAP != 0 {
        SMAP_ON.store(true, Ordering::Relaxed);
    }
    if GUARDS.iter().all(|g| (g.state)() == State::On) {
        PROTECTED_CPUS.fetch_add(1, Ordering::Relaxed);
    }
}

/// CPUs on which [`init_cpu`] enabled every guard.
pub fn protected_cpus() -> usize {
    PROTECTED_CPUS.load(Ordering::Relaxed)
}

/// Called first on every interrupt and exception: clears RFLAGS.AC, which
/// user mode may have set (an interrupt gate keeps it), so SMAP holds in
/// the kernel. (`syscall` clears it through IA32_FMASK.)
#[inline(always)]
pub fn on_entry() {
    if SMAP_ON.load(Ordering::Relaxed) {
        // SAFETY: clac only clears RFLAGS.AC; SMAP_ON says the CPU has it.
        unsafe { core::arch::asm!("clac", options(nostack)) };
    }
}

// The probes. `hwprot_probe_read` loads from the address; `hwprot_probe_execute`
// calls it. Each returns 0 if the access completed; if it faulted, `fixup`
// resumes at `hwprot_probe_faulted` (the caller's return address on top of
// the stack) with rax = FAULTED | the page-fault error code.
core::arch::global_asm!(
    r#"
.section .text
.global hwprot_probe_read
hwprot_probe_read:
hwprot_probe_read_access:
    mov rax, qword ptr [rdi]
    xor eax, eax
    ret
.global hwprot_probe_execute
hwprot_probe_execute:
    call rdi
hwprot_probe_execute_back:
    xor eax, eax
    ret
hwprot_probe_faulted:
    ret
"#
);

unsafe extern "C" {
    fn hwprot_probe_read(addr: u64) -> u64;
    fn hwprot_probe_execute(addr: u64) -> u64;
    static hwprot_probe_read_access: u8;
    static hwprot_probe_execute_back: u8;
    static hwprot_probe_faulted: u8;
}

/// Marks a probe's result as a fault (the low bits are the error code).
const FAULTED: u64 = 1 << 63;

/// Accesses `addr` from ring 0 as `probe` says; `Some(error code)` if it
/// page-faulted, `None` if the access went through.
///
/// # Safety
/// `addr` must be a mapped user page of the active table holding
/// [`RETURN_INSTRUCTION`] (so an access that is allowed is harmless);
/// interrupts are off.
pub unsafe fn probe(probe: Probe, addr: u64) -> Option<u64> {
    PROBING.store(true, Ordering::SeqCst);
    // SAFETY: per the contract; a fault comes back through `fixup`.
    let result = unsafe {
        match probe {
            Probe::Read => hwprot_probe_read(addr),
            Probe::Execute => hwprot_probe_execute(addr),
        }
    };
    PROBING.store(false, Ordering::SeqCst);
    (result & FAULTED != 0).then_some(result & !FAULTED)
}

/// For a kernel page fault: if a probe caused it, makes `frame` resume the
/// probe's caller with the fault reported, and says so. Anything else is
/// left alone (a real kernel fault).
pub fn fixup(frame: &mut TrapFrame, fault_address: u64) -> bool {
    if !PROBING.load(Ordering::SeqCst) || frame.vector != 14 {
        return false;
    }
    let faulted = (&raw const hwprot_probe_faulted) as u64;
    if frame.rip == (&raw const hwprot_probe_read_access) as u64 {
        frame.rip = faulted;
    } else if frame.error_code & (1 << 4) != 0 && frame.rip == fault_address && frame.rsp >= tessera_bootinfo::USER_END
    {
        // An instruction fetch at the called address: the probe's return
        // address is on top of the (kernel) stack. Pop it, as `ret` would.
        // SAFETY: `rsp` is the kernel stack `call` just pushed onto.
        let back = unsafe { (frame.rsp as *const u64).read() };
        if back != (&raw const hwprot_probe_execute_back) as u64 {
            return false;
        }
        frame.rsp += 8;
        frame.rip = faulted;
    } else {
        return false;
    }
    frame.rax = FAULTED | frame.error_code;
    true
}

/// Runs `f` with the user half of `root` and the whole kernel in CR3 (a
/// temporary root; a user root itself maps only the entry shadow), then
/// goes back to the kernel root.
///
/// # Safety
/// `root` must be a user root that no CPU changes meanwhile.
pub unsafe fn with_user_table<R>(root: rmm::PhysAddr, f: impl FnOnce() -> R) -> R {
    use tessera_bootinfo::PHYS_OFFSET;
    let both = super::hooks::allocate_frame().expect("a frame for the probe root");
    // SAFETY: all three are page tables (or a fresh frame, zeroed first)
    // reachable through the window.
    let (user, kernel, mut mixed) = unsafe {
        core::ptr::write_bytes(tessera_bootinfo::phys_to_virt(both.get()) as *mut u8, 0, rmm::PAGE_SIZE as usize);
        (
            rmm::PageMapper::<super::Paging>::new(root, PHYS_OFFSET),
            rmm::PageMapper::<super::Paging>::new(super::kpti::kernel_root(), PHYS_OFFSET),
            rmm::PageMapper::<super::Paging>::new(both, PHYS_OFFSET),
        )
    };
    for index in 0..512 {
        mixed.set_root_entry(index, if index < 256 { user.root_entry(index) } else { kernel.root_entry(index) });
    }
    // SAFETY: the mixed root maps all of the kernel as the kernel root does.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) both.get(), options(nostack)) };
    let result = f();
    // SAFETY: back to the kernel root; the write drops the mixed root's
    // entries from the TLB before its frame is freed.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) kernel.root().get(), options(nostack)) };
    super::hooks::free_frame(both);
    result
}

/// What user root `root` maps of the kernel, for the boot self-test: `kpti
/// on (...)` when only the entry shadow (`kpti`).
pub fn isolation(root: rmm::PhysAddr) -> Option<alloc::string::String> {
    Some(super::kpti::check_user_root(root))
}
