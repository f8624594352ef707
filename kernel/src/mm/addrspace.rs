//! A user address space: a page table whose user half (root entries
//! 0..256) the process owns, sharing the kernel half (x86_64) or living
//! beside it in TTBR0 (aarch64). Every user page is backed by a frame the
//! space owns alone; dropping the space frees them and every table.
//!
//! This is the plain model the kernel-core work needs (eager allocation,
//! `fork` copies every page). Grants, lazy faults and copy-on-write replace
//! it with the memory issue.

use rmm::{PAGE_SIZE, PageFlags, PageMapper, PageSize, PhysAddr, VirtAddr};
use tessera_abi::error::{EFAULT, EINVAL, ENOMEM, Error, Result};
use tessera_bootinfo::{USER_END, phys_to_virt};

use super::frames::{self, GlobalFrames};
use super::paging;
use crate::arch;

/// Root entries that hold user mappings.
const USER_ROOT_ENTRIES: core::ops::Range<usize> = 0..256;

/// One process's page table and the frames behind its user pages.
pub struct AddrSpace {
    mapper: PageMapper<arch::Paging>,
    pages: usize,
}

fn zeroed_frame() -> Result<PhysAddr> {
    let frame = frames::allocate_frame().ok_or(Error::new(ENOMEM))?;
    // SAFETY: a fresh frame, ours alone, mapped writable in the physical window.
    unsafe { core::ptr::write_bytes(phys_to_virt(frame.get()) as *mut u8, 0, PAGE_SIZE as usize) };
    Ok(frame)
}

impl AddrSpace {
    /// An empty user half.
    pub fn new() -> Result<Self> {
        let root = zeroed_frame()?;
        // SAFETY: a zeroed frame is an empty table; all frames are reachable
        // through the physical window.
        let mut mapper = unsafe { PageMapper::new(root, tessera_bootinfo::PHYS_OFFSET) };
        paging::with_kernel_mapper(|kernel| arch::init_user_root(&mut mapper, kernel));
        Ok(Self { mapper, pages: 0 })
    }

    /// The root table (what `activate_user_table` takes).
    pub fn root(&self) -> PhysAddr {
        self.mapper.root()
    }

    /// User pages mapped.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// Maps `count` zeroed pages at `virt` (page aligned, user half). All or
    /// nothing: on failure nothing stays mapped.
    pub fn map_zeroed(&mut self, virt: u64, count: usize, flags: PageFlags) -> Result<()> {
        let len = (count as u64).checked_mul(PAGE_SIZE).ok_or(Error::new(EINVAL))?;
        if !virt.is_multiple_of(PAGE_SIZE) || virt.checked_add(len).is_none_or(|end| end > USER_END) {
            return Err(Error::new(EINVAL));
        }
        for i in 0..count as u64 {
            let page = VirtAddr::new(virt + i * PAGE_SIZE);
            let mapped = zeroed_frame().and_then(|frame| {
                self.mapper.map(page, frame, PageSize::Size4K, flags.user(true), &mut GlobalFrames).map_err(|e| {
                    frames::free_frame(frame);
                    Error::new(if e == rmm::MapError::OutOfFrames { ENOMEM } else { EINVAL })
                })
            });
            match mapped {
                // Not live on any CPU until activated, or a fresh mapping no
                // TLB can hold.
                Ok(flush) => flush.ignore(),
                Err(e) => {
                    for j in 0..i {
                        self.unmap_page(virt + j * PAGE_SIZE);
                    }
                    return Err(e);
                }
            }
            self.pages += 1;
        }
        Ok(())
    }

    fn unmap_page(&mut self, virt: u64) {
        if let Ok((frame, _, flush)) = self.mapper.unmap(VirtAddr::new(virt)) {
            flush.ignore();
            frames::free_frame(frame);
            self.pages -= 1;
        }
    }

    /// The frame and rights behind user address `virt`, if mapped for user mode.
    pub fn translate(&self, virt: u64) -> Option<(PhysAddr, PageFlags)> {
        if virt >= USER_END {
            return None;
        }
        let (phys, flags, _) = self.mapper.translate(VirtAddr::new(virt))?;
        flags.is_user().then_some((phys, flags))
    }

    /// Copies `data` to user address `virt`, ignoring page rights (for the
    /// kernel building a new image). EFAULT if a page is unmapped.
    pub fn write_bytes(&mut self, virt: u64, data: &[u8]) -> Result<()> {
        crate::usercopy::for_each_page(self, virt, data.len(), false, |phys, offset, len| {
            // SAFETY: `phys` is a user frame of this space, reachable through
            // the physical window; `len` stays inside the page.
            unsafe {
                core::ptr::copy_nonoverlapping(data[offset..].as_ptr(), phys_to_virt(phys) as *mut u8, len);
            }
        })
    }

    /// A copy of this space: every user page duplicated into a new frame.
    pub fn fork(&self) -> Result<Self> {
        let mut child = Self::new()?;
        let mut result = Ok(());
        self.mapper.for_each_leaf(USER_ROOT_ENTRIES, &mut |virt, phys, flags, size| {
            if result.is_err() {
                return;
            }
            debug_assert_eq!(size, PageSize::Size4K);
            result = child.map_zeroed(virt.get(), 1, flags).and_then(|()| {
                let (copy, _) = child.translate(virt.get()).ok_or(Error::new(EFAULT))?;
                // SAFETY: both frames are reachable through the physical
                // window; the child's is fresh and ours.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        phys_to_virt(phys.get()) as *const u8,
                        phys_to_virt(copy.get()) as *mut u8,
                        PAGE_SIZE as usize,
                    )
                };
                Ok(())
            });
        });
        result.map(|()| child)
    }
}

impl Drop for AddrSpace {
    fn drop(&mut self) {
        let mut pages = 0;
        self.mapper.clear_root_entries(
            USER_ROOT_ENTRIES,
            &mut |frame, _| {
                frames::free_frame(frame);
                pages += 1;
            },
            &mut |table| frames::free_frame(table),
        );
        debug_assert_eq!(pages, self.pages);
        frames::free_frame(self.mapper.root());
    }
}
