//! x86_64 specifics: CPU checks, the ACPI RSDP, and the switch to the
//! kernel's page tables.

use alloc::string::String;

use tessera_bootinfo::HwDescKind;
use uefi::system;
use uefi::table::cfg::ConfigTableEntry;

use crate::memory::Region;

pub const NAME: &str = "x86_64";
pub const ELF_MACHINE: u16 = goblin::elf64::header::EM_X86_64;
pub type Paging = rmm::X86_64;

/// IA32_EFER and its no-execute-enable bit (Intel SDM Vol. 3A §4.1.1).
const IA32_EFER: u32 = 0xC000_0080;
const EFER_NXE: u64 = 1 << 11;
/// CR0.WP: supervisor writes honour read-only pages.
const CR0_WP: u64 = 1 << 16;

/// The kernel's mappings use the XD bit, so the CPU must support it.
pub fn check_cpu() -> Result<(), String> {
    let ext = core::arch::x86_64::__cpuid(0x8000_0001);
    if ext.edx & (1 << 20) == 0 {
        return Err(String::from("this CPU lacks the NX (execute-disable) bit"));
    }
    Ok(())
}

/// The ACPI 2.0+ RSDP (or the 1.0 one), as bytes.
pub fn find_hwdesc() -> Option<(HwDescKind, &'static [u8])> {
    let find =
        |guid| system::with_config_table(|t: &[ConfigTableEntry]| t.iter().find(|e| e.guid == guid).map(|e| e.address));
    let ptr = find(ConfigTableEntry::ACPI2_GUID).or_else(|| find(ConfigTableEntry::ACPI_GUID))?;
    let ptr = ptr.cast::<u8>();
    // SAFETY: the firmware's RSDP is at least 20 bytes; byte 15 is its revision.
    let revision = unsafe { ptr.add(15).read() };
    let len = if revision >= 2 { 36 } else { 20 };
    // SAFETY: an RSDP of revision >= 2 is 36 bytes long, else 20.
    Some((HwDescKind::Rsdp, unsafe { core::slice::from_raw_parts(ptr, len) }))
}

/// Where to go.
pub struct Jump {
    pub table: u64,
    pub entry: u64,
    pub stack_top: u64,
    pub args: u64,
}

/// Loads CR3 with the kernel's tables and jumps to `entry(args)` on the new
/// stack. Caches are coherent on x86, so the regions need no maintenance.
///
/// # Safety
/// The tables must identity-map the code of this function and map the
/// kernel, its stack and `args`. Boot services must have been exited.
pub unsafe fn enter_kernel(jump: Jump, _regions: &[Region]) -> ! {
    // SAFETY: ring 0; setting NXE and WP only tightens what the current
    // tables allow, and the new tables are valid per the contract above.
    unsafe {
        core::arch::asm!("cli");
        let (lo, hi): (u32, u32);
        core::arch::asm!("rdmsr", in("ecx") IA32_EFER, out("eax") lo, out("edx") hi);
        let efer = ((hi as u64) << 32 | lo as u64) | EFER_NXE;
        core::arch::asm!("wrmsr", in("ecx") IA32_EFER, in("eax") efer as u32, in("edx") (efer >> 32) as u32);
        let cr0: u64;
        core::arch::asm!("mov {}, cr0", out(reg) cr0);
        core::arch::asm!("mov cr0, {}", in(reg) cr0 | CR0_WP);
        core::arch::asm!(
            "mov cr3, {table}",
            "mov rsp, {stack}",
            "xor ebp, ebp",
            // A zero return address: the entry sees a normal call frame.
            "push 0",
            "jmp {entry}",
            table = in(reg) jump.table,
            stack = in(reg) jump.stack_top,
            entry = in(reg) jump.entry,
            in("rdi") jump.args,
            options(noreturn),
        )
    }
}
