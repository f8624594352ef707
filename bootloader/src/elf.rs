//! Loading the kernel ELF: its PT_LOAD segments are copied into one
//! physically contiguous kernel-owned block, laid out exactly as their
//! virtual addresses are, so `phys = kernel.phys + (virt - kernel.virt)`.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use goblin::elf64::header::{self, Header};
use goblin::elf64::program_header::{PF_W, PF_X, PT_LOAD, ProgramHeader};
use rmm::PAGE_SIZE;

use crate::memory::KernelMemory;

/// One segment's placement and permissions.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub virt: u64,
    pub size_bytes: u64,
    pub writable: bool,
    pub executable: bool,
}

/// The loaded kernel.
pub struct LoadedKernel {
    pub phys: u64,
    pub virt: u64,
    pub size_bytes: u64,
    pub entry: u64,
    pub segments: Vec<Segment>,
}

fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

fn page_up(x: u64) -> Option<u64> {
    Some(x.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// Checks and loads `file`, an ELF64 executable for `machine`.
pub fn load(file: &[u8], machine: u16, mem: &mut KernelMemory) -> Result<LoadedKernel, String> {
    if file.len() < header::SIZEOF_EHDR || &file[..4] != header::ELFMAG {
        return Err(String::from("\\kernel is not an ELF file"));
    }
    let hdr: &Header = Header::from_bytes(file[..header::SIZEOF_EHDR].try_into().expect("length checked"));
    if hdr.e_ident[header::EI_CLASS] != header::ELFCLASS64 || hdr.e_machine != machine || hdr.e_type != header::ET_EXEC
    {
        return Err(format!(
            "\\kernel is not a 64-bit executable for this CPU (machine {}, type {})",
            hdr.e_machine, hdr.e_type
        ));
    }
    let ph_start = hdr.e_phoff as usize;
    let ph_len = hdr.e_phnum as usize * core::mem::size_of::<ProgramHeader>();
    if hdr.e_phentsize as usize != core::mem::size_of::<ProgramHeader>()
        || ph_start.checked_add(ph_len).is_none_or(|end| end > file.len())
        || !ph_start.is_multiple_of(8)
    {
        return Err(String::from("\\kernel has a malformed program header table"));
    }
    // SAFETY: bounds and alignment of the table were checked just above, and
    // ProgramHeader is plain old data.
    let phdrs = unsafe {
        core::slice::from_raw_parts(file.as_ptr().add(ph_start).cast::<ProgramHeader>(), hdr.e_phnum as usize)
    };
    let loads: Vec<&ProgramHeader> = phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0).collect();
    if loads.is_empty() {
        return Err(String::from("\\kernel has no loadable segments"));
    }
    let mut segments = Vec::new();
    for p in &loads {
        let end = p.p_vaddr.checked_add(p.p_memsz);
        let file_end = p.p_offset.checked_add(p.p_filesz);
        if end.is_none() || file_end.is_none_or(|e| e > file.len() as u64) || p.p_filesz > p.p_memsz {
            return Err(format!("\\kernel segment at {:#x} is malformed", p.p_vaddr));
        }
        if p.p_vaddr < tessera_bootinfo::USER_END {
            return Err(format!("\\kernel segment at {:#x} is not in the higher half", p.p_vaddr));
        }
        segments.push(Segment {
            virt: page_down(p.p_vaddr),
            size_bytes: page_up(p.p_vaddr + p.p_memsz).ok_or("segment overflows")? - page_down(p.p_vaddr),
            writable: p.p_flags & PF_W != 0,
            executable: p.p_flags & PF_X != 0,
        });
    }
    let virt = segments.iter().map(|s| s.virt).min().expect("non-empty");
    let end = segments.iter().map(|s| s.virt + s.size_bytes).max().expect("non-empty");
    segments.sort_by_key(|s| s.virt);
    if segments.windows(2).any(|w| w[0].virt + w[0].size_bytes > w[1].virt) {
        return Err(String::from("\\kernel segments share pages; link with page-aligned sections"));
    }
    let size_bytes = end - virt;
    if size_bytes > 1 << 30 {
        return Err(format!("\\kernel spans {size_bytes:#x} bytes of address space; too large"));
    }
    let block = mem.allocate(size_bytes as usize)?;
    for p in &loads {
        let offset = (p.p_vaddr - virt) as usize;
        let src = &file[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize];
        // SAFETY: the block spans [virt, end), which contains this segment;
        // the rest of the block (including .bss) is already zero.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), block.as_mut_ptr().add(offset), src.len()) };
    }
    if hdr.e_entry < virt || hdr.e_entry >= end {
        return Err(format!("\\kernel entry point {:#x} is outside its segments", hdr.e_entry));
    }
    Ok(LoadedKernel { phys: block.phys(), virt, size_bytes, entry: hdr.e_entry, segments })
}
