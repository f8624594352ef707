//! Loading a static ELF program into a fresh address space, with its
//! arguments, environment and auxiliary vector on a new stack in the layout
//! the System V ABI gives `_start` (argc at the stack pointer, then argv,
//! NULL, envp, NULL, auxv pairs ending in AT_NULL; strings above).
//!
//! The `tessera-exec` crate (`kernel/exec`, host-tested) checks the headers
//! and decides where each page comes from; this module reads the file and
//! maps what it says; `stack` builds the stack.

mod stack;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rmm::{PAGE_SIZE, VirtAddr};
use tessera_abi::auxv::{AT_ENTRY, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PHENT, AT_PHNUM};
use tessera_abi::error::{ENOSYS, EOPNOTSUPP, Result};
use tessera_abi::mm::MapFlags;
use tessera_exec::header::HEADER_BYTES;
use tessera_exec::{FileRun, Layout, MAX_DATA_PAGES, MAX_PHDR_BYTES, STACK_BOTTOM, STACK_PAGES, STACK_TOP};
use tessera_mm::Prot;

use crate::arch;
use crate::loader::ProgramFile;
use crate::mm::{FailInjector, UserSpace, fmap};

/// Largest argv + envp, strings and pointers together.
pub const MAX_ARGS_BYTES: usize = 64 * 1024;
/// Bytes read from the file at a time for the copied pages.
const COPY_CHUNK: u64 = 64 * 1024;

/// A loaded program, ready to run.
pub struct Image {
    pub space: UserSpace,
    pub entry: u64,
    pub stack_pointer: u64,
}

/// Builds an address space running `program` with `argv` and `envp`.
///
/// Pages the program file's scheme can lend (read-only ones wholly from
/// the file: text and read-only data) are mapped from it, private and
/// fetched on first touch, so every process running the file shares their
/// frames; the rest is copied. A scheme without fmap (initfs) gets every
/// page copied.
pub fn load(program: &ProgramFile, argv: &[String], envp: &[String], inject: Arc<FailInjector>) -> Result<Image> {
    tessera_exec::check_file_size(program.size)?;
    let mut ehdr = [0u8; HEADER_BYTES];
    program.read_at(0, &mut ehdr)?;
    let hdr = tessera_exec::check_header(&ehdr, arch::ELF_MACHINE)?;
    // Room for the program headers and the per-page layout at their
    // largest, before either is read.
    crate::mm::reserve_heap_for(MAX_PHDR_BYTES + MAX_DATA_PAGES as usize * crate::mm::ENTRY_HEAP_BYTES)?;
    let mut table = vec![0u8; tessera_exec::program_header_bytes(&hdr)?];
    program.read_at(hdr.e_phoff, &mut table)?;
    let phdrs = tessera_exec::parse_program_headers(&table);
    let layout = Layout::new(&phdrs, hdr.e_entry, program.size, MAX_DATA_PAGES)?;
    // A `.bss` larger than all of memory is refused (ENOMEM) before
    // anything is allocated for it.
    layout.check_memory(crate::mm::total_frames() as u64)?;

    let mut space = UserSpace::new(inject)?;
    // The caller's limits (`sys:limits`) carry over, and the
    // new image must fit under them (else ENOMEM, the caller unchanged). Init,
    // loaded before any process exists, starts with none.
    if crate::process::init_alive() {
        let caller = crate::process::current();
        let limits = caller.space.lock().as_ref().map(|s| (s.max_mapped_pages(), s.max_grants()));
        if let Some((as_cap, maps_cap)) = limits {
            space.set_max_mapped_pages(as_cap);
            space.set_max_grants(maps_cap);
        }
    }
    let runs = lend(&mut space, program, layout.lendable_runs())?;
    copy(&mut space, program, &layout, &runs)?;

    space.map_populated(VirtAddr::new(STACK_BOTTOM), STACK_PAGES as u64, Prot::READ | Prot::WRITE, true)?;
    let auxv = [
        (AT_PHDR, layout.phdr_address(hdr.e_phoff)),
        (AT_PHENT, hdr.e_phentsize as u64),
        (AT_PHNUM, hdr.e_phnum as u64),
        (AT_PAGESZ, PAGE_SIZE),
        (AT_ENTRY, hdr.e_entry),
        (AT_NULL, 0),
    ];
    let stack_pointer = stack::build(&mut space, argv, envp, &auxv)?;
    Ok(Image { space, entry: hdr.e_entry, stack_pointer })
}

/// Maps `runs` from the program file's scheme into `space`: the runs
/// mapped, or none if the scheme does not lend pages (EOPNOTSUPP, ENOSYS
/// at the first lease), in which case exec copies them.
fn lend(space: &mut UserSpace, program: &ProgramFile, runs: Vec<FileRun>) -> Result<Vec<FileRun>> {
    for (i, run) in runs.iter().enumerate() {
        let mut flags = MapFlags::MAP_PRIVATE | MapFlags::PROT_READ;
        flags.set(MapFlags::PROT_EXEC, run.prot.contains(Prot::EXEC));
        let len = run.pages * PAGE_SIZE;
        let file = match fmap::lease(&program.description, run.offset, len, flags.bits(), false) {
            Ok(file) => file,
            Err(e) if i == 0 && matches!(e.errno, EOPNOTSUPP | ENOSYS) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        space.map_file(VirtAddr::new(run.page), run.prot, file)?;
    }
    Ok(runs)
}

/// Maps every page of `layout` with file bytes outside the `lent` runs,
/// populated, and fills it from the file (the rest of the page zero), then
/// gives each its rights (nothing runs in the space yet: no flush needed);
/// maps and allocates the `.bss` runs.
fn copy(space: &mut UserSpace, program: &ProgramFile, layout: &Layout, lent: &[FileRun]) -> Result<()> {
    let is_lent = |page: u64| lent.iter().any(|r| page >= r.page && page < r.page + r.pages * PAGE_SIZE);
    let copied: Vec<u64> = layout.pages.keys().copied().filter(|&page| !is_lent(page)).collect();
    for &page in &copied {
        space.map_populated(VirtAddr::new(page), 1, Prot::READ | Prot::WRITE, false)?;
    }
    let mut chunk = vec![0u8; COPY_CHUNK as usize];
    for p in &layout.loads {
        let end = p.p_vaddr + p.p_filesz;
        let mut at = p.p_vaddr;
        while at < end {
            // The longest stretch from `at` over copied pages, a chunk at most.
            let mut stop = at;
            while stop < end && stop - at < COPY_CHUNK && !is_lent(stop & !(PAGE_SIZE - 1)) {
                stop = ((stop & !(PAGE_SIZE - 1)) + PAGE_SIZE).min(end).min(at + COPY_CHUNK);
            }
            if stop == at {
                // A lent page: the file shows through already.
                at = (at & !(PAGE_SIZE - 1)) + PAGE_SIZE;
                continue;
            }
            let piece = &mut chunk[..(stop - at) as usize];
            program.read_at(p.p_offset + (at - p.p_vaddr), piece)?;
            space.write_bytes(VirtAddr::new(at), piece)?;
            at = stop;
        }
    }
    for &page in &copied {
        space.protect(VirtAddr::new(page), 1, tessera_exec::prot(layout.pages[&page]))?;
    }
    // `.bss` past the file's pages: allocated now, like the copied pages,
    // so that what a program needs is there when it starts (Linux maps it
    // lazily). Room for its slots in the kernel heap first.
    crate::mm::reserve_heap_for(crate::mm::slot_heap_bytes(layout.zero_pages()))?;
    for run in &layout.zero_runs {
        space.map_populated(VirtAddr::new(run.page), run.pages, tessera_exec::prot(run.flags), false)?;
    }
    Ok(())
}
