//! Where a program's loadable segments go: the rights of every page of the
//! image, and which pages the program file can lend as they are (mapped
//! from the file's scheme, shared between every process running the file)
//! rather than be copied.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use goblin::elf64::program_header::{PF_W, PF_X, PT_LOAD, ProgramHeader};
use rmm::{PAGE_SIZE, PageFlags};
use tessera_mm::Prot;

use crate::{ExecError, Result, STACK_BOTTOM};

/// The pages of a program image.
pub struct Layout {
    /// The PT_LOAD segments with something in memory, in address order.
    pub loads: Vec<ProgramHeader>,
    /// Rights per page that holds file bytes (or is the first page of a
    /// segment), as the union of the segments that touch it. Its size is
    /// bounded by the file's, whatever the segments claim.
    pub pages: BTreeMap<u64, PageFlags>,
    /// The pages past each segment's file bytes that no other segment
    /// touches (`.bss`), mapped as private anonymous memory in one call per
    /// run (no per-page bookkeeping here).
    pub zero_runs: Vec<ZeroRun>,
}

/// Zero-filled pages `[page, page + pages * PAGE_SIZE)` with rights `flags`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroRun {
    pub page: u64,
    pub pages: u64,
    pub flags: PageFlags,
}

impl ZeroRun {
    fn contains(&self, addr: u64) -> bool {
        addr >= self.page && addr - self.page < self.pages * PAGE_SIZE
    }
}

/// Pages `[page, page + pages * PAGE_SIZE)` shown as they are in the file
/// from `offset` on, with rights `prot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRun {
    pub page: u64,
    pub offset: u64,
    pub pages: u64,
    pub prot: Prot,
}

fn no_exec() -> ExecError {
    ExecError::NotExecutable
}

fn page_down(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// `addr` rounded up to a page; `None` past the top of memory.
fn page_up(addr: u64) -> Option<u64> {
    Some(page_down(addr.checked_add(PAGE_SIZE - 1)?))
}

/// The rights a segment gives the pages it touches.
fn segment_flags(p: &ProgramHeader) -> PageFlags {
    PageFlags::new().write(p.p_flags & PF_W != 0).execute(p.p_flags & PF_X != 0)
}

impl Layout {
    /// Checks the segments of a program `file_size` bytes long with entry
    /// point `entry`: each must lie in the file and in user space below the
    /// stack, they must come in address order without overlapping (two may
    /// share the page where one ends and the next begins), the entry must
    /// be in one of them, and no page may be both writable and executable
    /// (W^X). ENOEXEC otherwise.
    ///
    /// Nothing is allocated in proportion to the segments' memory sizes:
    /// pages with file bytes are bounded by `max_data_pages` (checked before
    /// any is recorded; the kernel passes [`crate::MAX_DATA_PAGES`]), and
    /// `.bss` pages become ranges.
    pub fn new(phdrs: &[ProgramHeader], entry: u64, file_size: u64, max_data_pages: u64) -> Result<Self> {
        let loads: Vec<ProgramHeader> =
            phdrs.iter().filter(|p| p.p_type == PT_LOAD && p.p_memsz > 0).copied().collect();
        let mut data_pages: u64 = 0;
        let mut previous_end = 0;
        for p in &loads {
            let end = p.p_vaddr.checked_add(p.p_memsz).filter(|&e| e <= STACK_BOTTOM);
            let file_end = p.p_offset.checked_add(p.p_filesz);
            if end.is_none() || file_end.is_none_or(|e| e > file_size) || p.p_filesz > p.p_memsz || p.p_vaddr == 0 {
                return Err(no_exec());
            }
            // In order, overlapping at most in one shared page.
            if p.p_vaddr < previous_end {
                return Err(no_exec());
            }
            previous_end = p.p_vaddr + p.p_memsz;
            let data_end = p.p_vaddr + p.p_filesz.max(1);
            data_pages =
                data_pages.saturating_add((page_up(data_end).ok_or_else(no_exec)? - page_down(p.p_vaddr)) / PAGE_SIZE);
        }
        if data_pages > max_data_pages {
            return Err(no_exec());
        }
        let mut pages: BTreeMap<u64, PageFlags> = BTreeMap::new();
        let union = |pages: &mut BTreeMap<u64, PageFlags>, page: u64, p: &ProgramHeader| {
            let flags = pages.entry(page).or_default();
            let add = segment_flags(p);
            *flags = flags
                .write(flags.is_writable() || add.is_writable())
                .execute(flags.is_executable() || add.is_executable());
        };
        for p in &loads {
            let data_end = p.p_vaddr + p.p_filesz.max(1);
            let mut page = page_down(p.p_vaddr);
            while page < data_end {
                union(&mut pages, page, p);
                page += PAGE_SIZE;
            }
        }
        // A segment's last page may be the next one's first (with file
        // bytes): it takes both segments' rights.
        for p in &loads {
            let last = page_down(p.p_vaddr + p.p_memsz - 1);
            if pages.contains_key(&last) {
                union(&mut pages, last, p);
            }
        }
        let mut zero_runs = Vec::new();
        for p in &loads {
            let mut start = page_up(p.p_vaddr + p.p_filesz.max(1)).ok_or_else(no_exec)?;
            let mut end = page_up(p.p_vaddr + p.p_memsz).ok_or_else(no_exec)?;
            while start < end && pages.contains_key(&start) {
                start += PAGE_SIZE;
            }
            while start < end && pages.contains_key(&(end - PAGE_SIZE)) {
                end -= PAGE_SIZE;
            }
            if start < end {
                zero_runs.push(ZeroRun { page: start, pages: (end - start) / PAGE_SIZE, flags: segment_flags(p) });
            }
        }
        let in_image =
            |addr: u64| pages.contains_key(&page_down(addr)) || zero_runs.iter().any(|run| run.contains(addr));
        if loads.is_empty() || !in_image(entry) {
            return Err(no_exec());
        }
        let wx = |f: &PageFlags| f.is_writable() && f.is_executable();
        if pages.values().any(wx) || zero_runs.iter().any(|run| wx(&run.flags)) {
            return Err(no_exec());
        }
        Ok(Self { loads, pages, zero_runs })
    }

    /// Pages of `.bss` that would be writable: what the image may commit
    /// beyond its file.
    pub fn writable_zero_pages(&self) -> u64 {
        self.zero_runs.iter().filter(|run| run.flags.is_writable()).map(|run| run.pages).sum()
    }

    /// Pages of `.bss`, writable or not.
    pub fn zero_pages(&self) -> u64 {
        self.zero_runs.iter().map(|run| run.pages).sum()
    }

    /// Whether the image's writable `.bss` fits in a machine of
    /// `total_frames` frames: ENOMEM otherwise, before anything is
    /// allocated for it.
    pub fn check_memory(&self, total_frames: u64) -> Result<()> {
        if self.writable_zero_pages() > total_frames {
            return Err(ExecError::OutOfMemory);
        }
        Ok(())
    }

    /// Where the program header table at file offset `phoff` is in
    /// memory (for `AT_PHDR`): in the segment whose file bytes hold it, or
    /// 0 if none does.
    pub fn phdr_address(&self, phoff: u64) -> u64 {
        self.loads
            .iter()
            .find(|p| p.p_offset <= phoff && phoff < p.p_offset + p.p_filesz)
            .map_or(0, |p| p.p_vaddr + (phoff - p.p_offset))
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
