//! `memory:` — memory as a scheme (Redox's convention). An fd from here is
//! what `fmap` maps:
//!
//! | path | fmap maps |
//! |---|---|
//! | `zeroed` (or empty) | anonymous memory, as `fmap` with fd `!0` (private: copy-on-write after fork; shared: a new object) |
//! | `shared` | one memory object, sized once by `ftruncate`; every shared mapping of the fd (in any process that has it, e.g. after `fork`) sees the same pages |
//! | `physical@wb` / `@uc` / `@wc` (no suffix: `@wb`) | physical memory at the fmap offset, for drivers; EPERM unless the process is privileged (docs/kernel.md, "Privilege"; an fd opened while privileged stays usable, as `/dev/mem`) |
//! | `zeroed?phys_contiguous` (or `?phys_contiguous`) | DMA memory: each fmap (offset 0, MAP_SHARED or MAP_PRIVATE alike) maps new physically contiguous, zeroed frames, all present at once and shared by fork (`mm::dma`); ENOMEM past 16 MiB or when no run is free; privileged only (EPERM) |
//!
//! And one handle that maps nothing: `translation` (privileged only,
//! EPERM): write a virtual address of the caller's own space (8 bytes,
//! native endian), then read 8 bytes: the physical address behind it. A
//! page not mapped now (never touched, or not the caller's) is EFAULT at
//! the write; a write or read of another length is EINVAL, and so is a
//! read before any successful write.
//!
//! An object's size cannot change once set (EINVAL); mapping past it
//! faults with SIGBUS; MAP_PRIVATE of an object is EOPNOTSUPP for now.

use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicUsize, Ordering};

use rmm::PAGE_SIZE;
use rmm::VirtAddr;
use tessera_abi::Stat;
use tessera_abi::error::{EBADF, EFAULT, EINVAL, ENOENT, EPERM, Error, Result};
use tessera_mm::{MemObject, PhysKind, SharedObject};

use super::{KernelScheme, MemorySource};
use crate::mm::KernelFrames;
use crate::process;
use crate::sync::Mutex;

enum Handle {
    Zeroed,
    /// The object, once `ftruncate` has sized it.
    Shared(Option<SharedObject>),
    Physical(PhysKind),
    /// `zeroed?phys_contiguous`.
    Contiguous,
    /// `translation`: the last address translated, once there is one.
    Translation(Option<u64>),
}

/// What one `translation` write or read carries: an address.
const ADDRESS_BYTES: usize = core::mem::size_of::<u64>();

#[derive(Default)]
pub struct MemoryScheme {
    handles: Mutex<BTreeMap<usize, Handle>>,
    next_id: AtomicUsize,
}

impl KernelScheme for MemoryScheme {
    fn open(&self, path: &str, _flags: usize) -> Result<usize> {
        let handle = match path {
            "" | "zeroed" => Handle::Zeroed,
            "shared" => Handle::Shared(None),
            "zeroed?phys_contiguous" | "?phys_contiguous" => Handle::Contiguous,
            "translation" => Handle::Translation(None),
            _ => match path.strip_prefix("physical") {
                Some("" | "@wb") => Handle::Physical(PhysKind::WriteBack),
                Some("@uc") => Handle::Physical(PhysKind::Uncached),
                Some("@wc") => Handle::Physical(PhysKind::WriteCombining),
                _ => return Err(Error::new(ENOENT)),
            },
        };
        let privileged_only = matches!(handle, Handle::Physical(_) | Handle::Contiguous | Handle::Translation(_));
        if privileged_only && !process::current().is_privileged() {
            return Err(Error::new(EPERM));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(id, handle);
        Ok(id)
    }

    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let mut handles = self.handles.lock();
        let Some(Handle::Translation(last)) = handles.get_mut(&id) else {
            return Err(Error::new(if handles.contains_key(&id) { EINVAL } else { EBADF }));
        };
        let virt = u64::from_ne_bytes(buf.try_into().map_err(|_| Error::new(EINVAL))?);
        let phys = crate::mm::page_fault::with_user_space(&process::current().space, |space| {
            space.translate(VirtAddr::new(virt)).map(|(phys, _)| phys.get()).ok_or(Error::new(EFAULT))
        })?;
        *last = Some(phys);
        Ok(ADDRESS_BYTES)
    }

    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        match self.handles.lock().get(&id) {
            Some(Handle::Translation(Some(phys))) if buf.len() == ADDRESS_BYTES => {
                buf.copy_from_slice(&phys.to_ne_bytes());
                Ok(ADDRESS_BYTES)
            }
            Some(_) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn ftruncate(&self, id: usize, len: usize) -> Result<()> {
        let pages = (len as u64).div_ceil(PAGE_SIZE);
        let mut handles = self.handles.lock();
        match handles.get_mut(&id) {
            Some(Handle::Shared(slot @ None)) if pages > 0 => {
                *slot = Some(MemObject::new(pages));
                Ok(())
            }
            Some(Handle::Shared(Some(object))) if object.size_pages() == pages => Ok(()),
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        let handles = self.handles.lock();
        let size = match handles.get(&id) {
            Some(Handle::Shared(Some(object))) => object.size_pages() * PAGE_SIZE,
            Some(_) => 0,
            None => return Err(Error::new(EBADF)),
        };
        stat.st_size = size;
        stat.st_blksize = PAGE_SIZE as u32;
        Ok(())
    }

    fn memory_source(&self, id: usize) -> Result<MemorySource> {
        match self.handles.lock().get(&id) {
            Some(Handle::Zeroed) => Ok(MemorySource::Anonymous),
            Some(Handle::Shared(Some(object))) => Ok(MemorySource::Object(object.clone())),
            Some(Handle::Physical(kind)) => Ok(MemorySource::Physical(*kind)),
            Some(Handle::Contiguous) => Ok(MemorySource::Contiguous),
            // Not sized yet; or nothing to map.
            Some(Handle::Shared(None) | Handle::Translation(_)) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }

    fn close(&self, id: usize) -> Result<()> {
        let handle = self.handles.lock().remove(&id);
        if let Some(Handle::Shared(Some(object))) = handle {
            // Pages still mapped somewhere live on in those mappings.
            MemObject::release(object, &mut KernelFrames);
        }
        Ok(())
    }
}
