//! Loading a static ELF program into a fresh address space, with its
//! arguments, environment and auxiliary vector on a new stack in the layout
//! the System V ABI gives `_start` (argc at the stack pointer, then argv,
//! NULL, envp, NULL, auxv pairs ending in AT_NULL; strings above).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use goblin::elf64::header::{self, Header};
use goblin::elf64::program_header::{PF_W, PF_X, PT_LOAD, ProgramHeader};
use rmm::{PAGE_SIZE, PageFlags};
use tessera_abi::auxv::{AT_ENTRY, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM};
use tessera_abi::error::{E2BIG, EFBIG, ENOEXEC, Error, Result};
use tessera_bootinfo::USER_END;
use tessera_mm::Prot;

use crate::arch;
use crate::mm::{AddrSpace, FailInjector};

/// Top of a new program's stack (a guard gap stays above it).
pub const STACK_TOP: u64 = USER_END - 16 * PAGE_SIZE;
/// Pages of stack mapped at exec.
pub const STACK_PAGES: usize = 64;
/// Largest argv + envp, strings and pointers together.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// Largest program file.
pub const MAX_PROGRAM_BYTES: usize = 64 << 20;

/// A loaded program, ready to run.
pub struct Image {
    pub space: AddrSpace,
    pub entry: u64,
    pub stack_pointer: u64,
}

fn no_exec() -> Error {
    Error::new(ENOEXEC)
}

/// Builds an address space running `elf` with `argv` and `envp`.
pub fn load(elf: &[u8], argv: &[String], envp: &[String], inject: Arc<FailInjector>) -> Result<Image> {
    if elf.len() > MAX_PROGRAM_BYTES {
        return Err(Error::new(EFBIG));
    }
    if elf.len() < header::SIZEOF_EHDR || &elf[..4] != header::ELFMAG {
        return Err(no_exec());
    }
    let hdr: &Header = Header::from_bytes(elf[..header::SIZEOF_EHDR].try_into().map_err(|_| no_exec())?);
    if hdr.e_ident[header::EI_CLASS] != header::ELFCLASS64
        || hdr.e_machine != arch::ELF_MACHINE
        || hdr.e_type != header::ET_EXEC
        || hdr.e_phentsize as usize != core::mem::size_of::<ProgramHeader>()
    {
        return Err(no_exec());
    }
    let phdrs = program_headers(elf, hdr)?;

    // Rights per page, as the union of the segments that touch it.
    let mut pages: BTreeMap<u64, PageFlags> = BTreeMap::new();
    let loads: Vec<&ProgramHeader> = phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0).collect();
    for p in &loads {
        let end = p.p_vaddr.checked_add(p.p_memsz).filter(|&e| e <= STACK_TOP - (STACK_PAGES as u64) * PAGE_SIZE);
        let file_end = p.p_offset.checked_add(p.p_filesz);
        if end.is_none() || file_end.is_none_or(|e| e > elf.len() as u64) || p.p_filesz > p.p_memsz || p.p_vaddr == 0 {
            return Err(no_exec());
        }
        let mut page = p.p_vaddr & !(PAGE_SIZE - 1);
        while page < p.p_vaddr + p.p_memsz {
            let flags = pages.entry(page).or_default();
            *flags = flags
                .write(flags.is_writable() || p.p_flags & PF_W != 0)
                .execute(flags.is_executable() || p.p_flags & PF_X != 0);
            page += PAGE_SIZE;
        }
    }
    if loads.is_empty() || !pages.keys().any(|&page| hdr.e_entry >= page && hdr.e_entry < page + PAGE_SIZE) {
        return Err(no_exec());
    }

    // Pages writable and executable at once break W^X: refused.
    if pages.values().any(|f| f.is_writable() && f.is_executable()) {
        return Err(no_exec());
    }
    let mut space = AddrSpace::new(inject)?;
    // The caller's RLIMIT_AS-like cap (`sys:limits`) carries over, and the
    // new image must fit under it (else ENOMEM, the caller unchanged). Init,
    // loaded before any process exists, starts with none.
    if crate::process::init_alive() {
        let caller = crate::process::current();
        space.set_max_mapped_pages(caller.space.lock().as_ref().and_then(AddrSpace::max_mapped_pages));
    }
    // Populated and writable while the kernel fills them, then given the
    // segments' rights (nothing runs in the space yet: no flush needed).
    for &page in pages.keys() {
        space.map_populated(page, 1, Prot::READ | Prot::WRITE, false)?;
    }
    for p in &loads {
        space.write_bytes(p.p_vaddr, &elf[p.p_offset as usize..(p.p_offset + p.p_filesz) as usize])?;
    }
    for (&page, &flags) in &pages {
        let mut prot = Prot::READ;
        prot.set(Prot::WRITE, flags.is_writable());
        prot.set(Prot::EXEC, flags.is_executable());
        space.protect(page, 1, prot)?;
    }
    // Where the program headers are in memory, for AT_PHDR.
    let phdr_addr = loads
        .iter()
        .find(|p| p.p_offset <= hdr.e_phoff && hdr.e_phoff < p.p_offset + p.p_filesz)
        .map_or(0, |p| p.p_vaddr + (hdr.e_phoff - p.p_offset));

    let stack_base = STACK_TOP - STACK_PAGES as u64 * PAGE_SIZE;
    space.map_populated(stack_base, STACK_PAGES, Prot::READ | Prot::WRITE, true)?;
    let auxv = [
        (AT_PHDR, phdr_addr),
        (AT_PHENT, hdr.e_phentsize as u64),
        (AT_PHNUM, hdr.e_phnum as u64),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_ENTRY, hdr.e_entry),
        (AT_NULL, 0),
    ];
    let stack_pointer = build_stack(&mut space, argv, envp, &auxv)?;
    Ok(Image { space, entry: hdr.e_entry, stack_pointer })
}

fn program_headers<'a>(elf: &'a [u8], hdr: &Header) -> Result<&'a [ProgramHeader]> {
    let start = hdr.e_phoff as usize;
    let len = (hdr.e_phnum as usize).checked_mul(core::mem::size_of::<ProgramHeader>()).ok_or_else(no_exec)?;
    let bytes = elf.get(start..start.checked_add(len).ok_or_else(no_exec)?).ok_or_else(no_exec)?;
    if !(bytes.as_ptr() as usize).is_multiple_of(core::mem::align_of::<ProgramHeader>()) {
        return Err(no_exec());
    }
    // SAFETY: in bounds and aligned (checked above); ProgramHeader is plain
    // old data, valid for any bytes.
    Ok(unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast::<ProgramHeader>(), hdr.e_phnum as usize) })
}

/// Writes strings, pointers and auxv at the top of the stack; returns the
/// stack pointer (16-byte aligned, pointing at argc).
fn build_stack(space: &mut AddrSpace, argv: &[String], envp: &[String], auxv: &[(usize, u64)]) -> Result<u64> {
    let strings: usize = argv.iter().chain(envp).map(|s| s.len() + 1).sum();
    let words = 1 + argv.len() + 1 + envp.len() + 1 + auxv.len() * 2;
    if strings + words * 8 > MAX_ARGS_BYTES {
        return Err(Error::new(E2BIG));
    }
    let mut top = STACK_TOP;
    let mut place = |s: &String| -> Result<u64> {
        top -= s.len() as u64 + 1;
        let mut bytes = vec![0u8; s.len() + 1];
        bytes[..s.len()].copy_from_slice(s.as_bytes());
        space.write_bytes(top, &bytes)?;
        Ok(top)
    };
    let argv_ptrs: Vec<u64> = argv.iter().map(&mut place).collect::<Result<_>>()?;
    let envp_ptrs: Vec<u64> = envp.iter().map(&mut place).collect::<Result<_>>()?;

    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(argv.len() as u64);
    table.extend(&argv_ptrs);
    table.push(0);
    table.extend(&envp_ptrs);
    table.push(0);
    for &(key, value) in auxv {
        table.push(key as u64);
        table.push(value);
    }
    let sp = (top - table.len() as u64 * 8) & !0xF;
    let bytes: Vec<u8> = table.iter().flat_map(|w| w.to_le_bytes()).collect();
    space.write_bytes(sp, &bytes)?;
    Ok(sp)
}
