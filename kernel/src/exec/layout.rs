//! Where a program's loadable segments go: the rights of every page of the
//! image, and which pages the program file can lend as they are (mapped
//! from the file's scheme, shared between every process running the file)
//! rather than be copied.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use goblin::elf64::program_header::{PF_W, PF_X, PT_LOAD, ProgramHeader};
use rmm::{PAGE_SIZE, PageFlags};
use tessera_abi::error::{ENOEXEC, Error, Result};
use tessera_mm::Prot;

use super::{STACK_PAGES, STACK_TOP};

/// The pages of a program image.
pub struct Layout {
    /// The PT_LOAD segments with something in memory.
    pub loads: Vec<ProgramHeader>,
    /// Rights per page, as the union of the segments that touch it.
    pub pages: BTreeMap<u64, PageFlags>,
}

/// Pages `[page, page + pages * PAGE_SIZE)` shown as they are in the file
/// from `offset` on, with rights `prot`.
#[derive(Clone, Copy, Debug)]
pub struct FileRun {
    pub page: u64,
    pub offset: u64,
    pub pages: u64,
    pub prot: Prot,
}

fn no_exec() -> Error {
    Error::new(ENOEXEC)
}

impl Layout {
    /// Checks the segments of a program `file_size` bytes long with entry
    /// point `entry`: each must lie in the file and below the stack, the
    /// entry must be in one of them, and no page may be both writable and
    /// executable (W^X). ENOEXEC otherwise.
    pub fn new(phdrs: &[ProgramHeader], entry: u64, file_size: u64) -> Result<Self> {
        let loads: Vec<ProgramHeader> =
            phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0).copied().collect();
        let mut pages: BTreeMap<u64, PageFlags> = BTreeMap::new();
        let stack_bottom = STACK_TOP - (STACK_PAGES as u64) * PAGE_SIZE;
        for p in &loads {
            let end = p.p_vaddr.checked_add(p.p_memsz).filter(|&e| e <= stack_bottom);
            let file_end = p.p_offset.checked_add(p.p_filesz);
            if end.is_none() || file_end.is_none_or(|e| e > file_size) || p.p_filesz > p.p_memsz || p.p_vaddr == 0 {
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
        if loads.is_empty() || !pages.keys().any(|&page| entry >= page && entry < page + PAGE_SIZE) {
            return Err(no_exec());
        }
        if pages.values().any(|f| f.is_writable() && f.is_executable()) {
            return Err(no_exec());
        }
        Ok(Self { loads, pages })
    }

    /// The file offset page `page` can be lent from, if it can: it is not
    /// writable, exactly one segment touches it, that segment's file
    /// offsets and addresses agree modulo the page size, and none of the
    /// segment's zero-filled tail (`.bss`) falls in it. Bytes of the page
    /// outside the segment show the file's neighbouring bytes, as Linux
    /// maps them.
    fn lendable(&self, page: u64, flags: PageFlags) -> Option<u64> {
        if flags.is_writable() {
            return None;
        }
        let mut touching = self.loads.iter().filter(|p| p.p_vaddr < page + PAGE_SIZE && page < p.p_vaddr + p.p_memsz);
        let p = touching.next()?;
        if touching.next().is_some() || !(p.p_vaddr.wrapping_sub(p.p_offset)).is_multiple_of(PAGE_SIZE) {
            return None;
        }
        if (page + PAGE_SIZE).min(p.p_vaddr + p.p_memsz) > p.p_vaddr + p.p_filesz {
            return None;
        }
        p.p_offset.checked_add(page)?.checked_sub(p.p_vaddr)
    }

    /// The pages the file can lend, as runs of consecutive pages with
    /// consecutive file offsets and the same rights.
    pub fn lendable_runs(&self) -> Vec<FileRun> {
        let mut runs: Vec<FileRun> = Vec::new();
        for (&page, &flags) in &self.pages {
            let Some(offset) = self.lendable(page, flags) else { continue };
            let prot = prot(flags);
            match runs.last_mut() {
                Some(run)
                    if run.page + run.pages * PAGE_SIZE == page
                        && run.offset + run.pages * PAGE_SIZE == offset
                        && run.prot == prot =>
                {
                    run.pages += 1;
                }
                _ => runs.push(FileRun { page, offset, pages: 1, prot }),
            }
        }
        runs
    }
}

/// The protection of a page with `flags`.
pub fn prot(flags: PageFlags) -> Prot {
    let mut prot = Prot::READ;
    prot.set(Prot::WRITE, flags.is_writable());
    prot.set(Prot::EXEC, flags.is_executable());
    prot
}
