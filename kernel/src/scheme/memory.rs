//! `memory:` — memory as a scheme (Redox's convention). An fd from here is
//! what `fmap` maps:
//!
//! | path | fmap maps |
//! |---|---|
//! | `zeroed` (or empty) | anonymous memory, as `fmap` with fd `!0` (private: copy-on-write after fork; shared: a new object) |
//! | `shared` | one memory object, sized once by `ftruncate`; every shared mapping of the fd (in any process that has it, e.g. after `fork`) sees the same pages |
//! | `physical@wb` / `@uc` / `@wc` (no suffix: `@wb`) | physical memory at the fmap offset, for drivers; EPERM unless the process is privileged (docs/kernel.md, "Privilege"; an fd opened while privileged stays usable, as `/dev/mem`) |
//!
//! An object's size cannot change once set (EINVAL); mapping past it
//! faults with SIGBUS; MAP_PRIVATE of an object is EOPNOTSUPP for now.

use alloc::collections::BTreeMap;
use core::sync::atomic::{AtomicUsize, Ordering};

use rmm::PAGE_SIZE;
use tessera_abi::Stat;
use tessera_abi::error::{EINVAL, ENOENT, EPERM, Error, Result};
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
}

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
            _ => {
                let kind = match path.strip_prefix("physical") {
                    Some("" | "@wb") => PhysKind::WriteBack,
                    Some("@uc") => PhysKind::Uncached,
                    Some("@wc") => PhysKind::WriteCombining,
                    _ => return Err(Error::new(ENOENT)),
                };
                if !process::current().is_privileged() {
                    return Err(Error::new(EPERM));
                }
                Handle::Physical(kind)
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(id, handle);
        Ok(id)
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
            None => return Err(Error::new(tessera_abi::error::EBADF)),
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
            // Not sized yet.
            Some(Handle::Shared(None)) => Err(Error::new(EINVAL)),
            None => Err(Error::new(tessera_abi::error::EBADF)),
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
