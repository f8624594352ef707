//! Kernel page-table isolation. While ring 3 runs, CR3 holds the address
//! space's own root, which maps the process's pages and, of the kernel,
//! only what the CPU needs to get in and out (the *shadow*): the entry and
//! exit code (section `.text.user_entry`) and the entry area (section
//! `.bss.entry_area`: the IDT and, per CPU, the GDT, the TSS, the per-CPU
//! block `GS` points at, and a small entry stack). The kernel itself, its
//! heap and the physical window (all RAM) are not in it, so a
//! Meltdown-class CPU cannot be made to read them from user mode. Every
//! entry (interrupt, exception, `syscall`) loads the kernel root first
//! thing and every return to ring 3 loads the user root last thing (see
//! `trap.rs`). The kernel never needs the user half (user copies go
//! through the physical window), so it runs on the one kernel root, which
//! has no user half at all.
//!
//! **When.** As Linux (`arch/x86/kernel/cpu/common.c`,
//! `cpu_set_bug_bits`): not on a CPU that is not affected by Meltdown —
//! vendor AuthenticAMD or HygonGenuine, or IA32_ARCH_CAPABILITIES.RDCL_NO
//! set. There a user root holds the whole kernel half (supervisor-only, as
//! always), the kernel runs on the process's root, and entries and exits
//! write no CR3 (the entry code skips the write when the per-CPU kernel
//! and user roots are the same), so the TLB survives system calls and
//! interrupts. `TESSERA_KPTI=on` in the kernel env (installer config
//! `[env]`) forces isolation on, `off` forces it off, `auto` follows the
//! CPU; the test image sets `on`, the bench image `auto`. [`decide`] runs once, before the first user root is made.
//!
//! Global pages are off (CR4.PGE clear): a global kernel entry cached in
//! kernel mode would survive the switch to the user root. So every CR3
//! write drops the whole TLB; there are no PCIDs yet.
//!
//! A double fault runs on its IST stack, which is not in the shadow: one
//! while the user root is loaded (only possible if the entry path itself
//! is broken) resets the machine instead of being reported.

use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rmm::{FrameAllocator, PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr};
use tessera_bootinfo::PHYS_OFFSET;
use x86_64::structures::gdt::GlobalDescriptorTable;
use x86_64::structures::tss::TaskStateSegment;

use super::percpu::{self, PerCpu};
use crate::config::MAX_CPUS;

/// Bytes of each CPU's entry stack: the CPU pushes at most the interrupt
/// frame here, and the entry and exit code a few words more.
pub const ENTRY_STACK_BYTES: usize = 4096;

/// One CPU's part of the entry area.
#[repr(C, align(4096))]
pub struct CpuEntryArea {
    pub percpu: PerCpu,
    pub gdt: GlobalDescriptorTable,
    pub tss: TaskStateSegment,
    pub stack: EntryStack,
}

#[repr(C, align(4096))]
pub struct EntryStack(pub [u8; ENTRY_STACK_BYTES]);

struct Areas([UnsafeCell<MaybeUninit<CpuEntryArea>>; MAX_CPUS]);
// SAFETY: each CPU initialises and uses only its own slot (`area`).
unsafe impl Sync for Areas {}

#[unsafe(link_section = ".bss.entry_area")]
static AREAS: Areas = Areas([const { UnsafeCell::new(MaybeUninit::zeroed()) }; MAX_CPUS]);

/// CPU `index`'s entry area (zeroed until that CPU fills it).
pub fn area(index: usize) -> *mut CpuEntryArea {
    AREAS.0[index].get().cast()
}

/// Fills CPU `index`'s per-CPU block in its entry area and points GS at it
/// (`percpu`); run by that CPU, first thing (the boot CPU's entry, a
/// secondary's start).
pub fn install_cpu(index: usize, tss: *mut TaskStateSegment) {
    let area = area(index);
    // SAFETY: only the addresses of two fields of CPU `index`'s area.
    let (block, stack) = unsafe { (&raw mut (*area).percpu, &raw const (*area).stack) };
    let entry_stack_top = stack as u64 + ENTRY_STACK_BYTES as u64;
    // SAFETY: each CPU installs only its own index, so the block is this
    // CPU's alone; `tss` is its TSS (the caller's `gdt::init_*`).
    unsafe { percpu::install(block, index, tss, entry_stack_top, kernel_root().get()) };
}

unsafe extern "C" {
    static __entry_text_start: u8;
    static __entry_text_end: u8;
    static __entry_area_start: u8;
    static __entry_area_end: u8;
}

/// Whether isolation is on ([`decide`]); on until decided.
static ENABLED: AtomicBool = AtomicBool::new(true);
/// Why, for the boot self-test's line.
static WHY: spin::Once<&'static str> = spin::Once::new();

/// Decides whether isolation is on: `knob` (`TESSERA_KPTI`) `on` or `off`
/// if given, else (`auto`, or none) on unless the CPU is not affected by Meltdown (Linux's
/// rule: an AMD or Hygon CPU, or IA32_ARCH_CAPABILITIES.RDCL_NO). Another
/// knob value counts as not given (with a warning). Boot CPU, before any
/// user root exists.
pub fn decide(knob: Option<&str>) {
    let (on, why) = match knob.map(str::trim) {
        Some("on") => (true, "forced by TESSERA_KPTI=on"),
        Some("off") => (false, "turned off by TESSERA_KPTI=off"),
        other => {
            if let Some(value) = other.filter(|&value| value != "auto") {
                crate::println!("kpti: TESSERA_KPTI={value} is not on, off or auto; ignored");
            }
            match not_affected_by_meltdown() {
                Some(why) => (false, why),
                None => (true, "the CPU may be affected by Meltdown"),
            }
        }
    };
    ENABLED.store(on, Ordering::Relaxed);
    WHY.call_once(|| why);
}

/// Whether isolation is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Why the CPU is not affected by Meltdown (rogue data cache load), if it
/// is not: its vendor, or IA32_ARCH_CAPABILITIES (MSR 0x10A, present when
/// CPUID.(EAX=7,ECX=0):EDX[29]) bit 0, RDCL_NO (Intel SDM Vol. 4, table
/// 2-2).
fn not_affected_by_meltdown() -> Option<&'static str> {
    let leaf0 = core::arch::x86_64::__cpuid(0);
    let mut vendor = [0u8; 12];
    vendor[..4].copy_from_slice(&leaf0.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&leaf0.edx.to_le_bytes());
    vendor[8..].copy_from_slice(&leaf0.ecx.to_le_bytes());
    match &vendor {
        b"AuthenticAMD" => return Some("not needed: an AuthenticAMD CPU is not affected by Meltdown"),
        b"HygonGenuine" => return Some("not needed: a HygonGenuine CPU is not affected by Meltdown"),
        _ => {}
    }
    if leaf0.eax >= 7 && core::arch::x86_64::__cpuid_count(7, 0).edx & (1 << 29) != 0 {
        let (low, _high): (u32, u32);
        // SAFETY: CPUID says the MSR exists; reading it has no effect.
        unsafe {
            core::arch::asm!("rdmsr", in("ecx") 0x10Au32, out("eax") low, out("edx") _high, options(nomem, nostack))
        };
        if low & 1 != 0 {
            return Some("not needed: IA32_ARCH_CAPABILITIES.RDCL_NO, the CPU is not affected by Meltdown");
        }
    }
    None
}

/// The kernel root (CR3 in ring 0 on every CPU), 0 before `init`.
static KERNEL_ROOT: AtomicU64 = AtomicU64::new(0);
/// The shadow table: its root entries 256..512 go into every user root.
static SHADOW_ROOT: AtomicU64 = AtomicU64::new(0);

/// The kernel root.
pub fn kernel_root() -> PhysAddr {
    PhysAddr::new(KERNEL_ROOT.load(Ordering::Relaxed))
}

struct AllocatorFrames;
impl FrameAllocator for AllocatorFrames {
    fn allocate_frame(&mut self) -> Option<PhysAddr> {
        super::hooks::allocate_frame()
    }
}

/// Builds the shadow from the (active) kernel table rooted at `root`:
/// the entry text and the entry area, at their kernel addresses, with the
/// kernel's rights. Runs once, on the boot CPU, before any user root.
pub fn init(root: PhysAddr) {
    KERNEL_ROOT.store(root.get(), Ordering::Relaxed);
    // SAFETY: the kernel table is valid and reachable through the window.
    let kernel = unsafe { PageMapper::<super::Paging>::new(root, PHYS_OFFSET) };
    // SAFETY: frames come from the allocator, reachable through the window.
    let mut shadow = unsafe { PageMapper::<super::Paging>::create(&mut AllocatorFrames, PHYS_OFFSET) }
        .expect("memory for the entry shadow table");
    let ranges = [
        (&raw const __entry_text_start, &raw const __entry_text_end, PageFlags::new().execute(true)),
        (&raw const __entry_area_start, &raw const __entry_area_end, PageFlags::new().write(true)),
    ];
    for (start, end, flags) in ranges {
        let mut page = start as u64;
        while page < end as u64 {
            let (phys, _, _) = kernel.translate(VirtAddr::new(page)).expect("the kernel image is mapped");
            shadow
                .map(VirtAddr::new(page), phys, PageSize::Size4K, flags, &mut AllocatorFrames)
                .expect("memory for the entry shadow table")
                .ignore();
            page += PAGE_SIZE;
        }
    }
    SHADOW_ROOT.store(shadow.root().get(), Ordering::Relaxed);
}

/// Gives a new user root the shadow's kernel entries (and nothing else of
/// the kernel); without isolation, the whole kernel half of `kernel`.
pub fn init_user_root(new: &mut PageMapper<super::Paging>, kernel: &PageMapper<super::Paging>) {
    if !enabled() {
        for index in 256..512 {
            new.set_root_entry(index, kernel.root_entry(index));
        }
        return;
    }
    // SAFETY: the shadow table is valid and reachable through the window.
    let shadow =
        unsafe { PageMapper::<super::Paging>::new(PhysAddr::new(SHADOW_ROOT.load(Ordering::Relaxed)), PHYS_OFFSET) };
    for index in 256..512 {
        new.set_root_entry(index, shadow.root_entry(index));
    }
}

/// Gives `root` the whole kernel half of the kernel root (a CPU start-up
/// table, which runs kernel code).
pub fn share_kernel_half(root: PhysAddr) {
    // SAFETY: both tables are valid and reachable through the window.
    let (kernel, mut new) = unsafe {
        (
            PageMapper::<super::Paging>::new(kernel_root(), PHYS_OFFSET),
            PageMapper::<super::Paging>::new(root, PHYS_OFFSET),
        )
    };
    for index in 256..512 {
        new.set_root_entry(index, kernel.root_entry(index));
    }
}

/// Checks what user root `root` maps of the kernel half: only pages of the
/// entry text and the entry area, and all of them. Returns the report for
/// the boot self-test: `kpti on (...)` if so, else what is wrong; `kpti
/// off (why)` when isolation is off by [`decide`].
pub fn check_user_root(root: PhysAddr) -> alloc::string::String {
    use alloc::format;
    if !enabled() {
        return format!("kpti off ({}; TESSERA_KPTI=on forces it)", WHY.get().copied().unwrap_or("undecided"));
    }
    let text = (&raw const __entry_text_start) as u64..(&raw const __entry_text_end) as u64;
    let area = (&raw const __entry_area_start) as u64..(&raw const __entry_area_end) as u64;
    let expected = (text.end - text.start + area.end - area.start) / PAGE_SIZE;
    // SAFETY: the root is a valid table, reachable through the window.
    let mapper = unsafe { PageMapper::<super::Paging>::new(root, PHYS_OFFSET) };
    let (mut pages, mut stray) = (0, None);
    mapper.for_each_leaf(256..512, &mut |virt, _, _, size| {
        let virt = virt.get();
        if size == PageSize::Size4K && (text.contains(&virt) || area.contains(&virt)) {
            pages += 1;
        } else if stray.is_none() {
            stray = Some(virt);
        }
    });
    match stray {
        Some(virt) => format!("kpti off (a user root maps kernel address {virt:#x})"),
        None if pages != expected => format!("kpti off (a user root maps {pages} of the {expected} entry pages)"),
        None => format!(
            "kpti on (a user root maps {pages} kernel pages: entry code and entry area; not the physical window; {})",
            WHY.get().copied().unwrap_or("undecided")
        ),
    }
}
