//! Schemes: named resource providers addressed as `name:path` (or
//! `/scheme/name/path`). Kernel schemes implement [`KernelScheme`], whose
//! methods all default to EOPNOTSUPP, so a scheme answers only what it
//! really supports.
//!
//! | scheme | what |
//! |---|---|
//! | `debug:` | the console: write prints, read polls the serial input |
//! | `initfs:` | read-only files of the boot initfs |
//! | `irq:` | interrupts for privileged drivers (`irq.rs`, docs/drivers.md) |
//! | `memory:` | memory to `fmap`: anonymous, shared objects, physical (`memory.rs`) |
//! | `pci:` | PCI functions and their configuration space, for privileged drivers (`pci.rs`, docs/drivers.md) |
//! | `pipe:` | anonymous pipes made by `pipe2` |
//! | `sys:` | read-only text about the kernel: `memory`, `processes`, `scheduler` |
//! | `:` | the root scheme: a daemon registers `name:` with `open(":name", O_CREAT \| O_RDWR)` |
//! | `name:` | a user scheme: calls become requests to its daemon (`user.rs`, `docs/schemes.md`) |
//!
//! Paths ([`resolve`]): `name:path` and `/scheme/name/path` name a scheme;
//! every other path belongs to `file:` (the default scheme, normally the
//! `ramfs` daemon): `/a/b` is `file:/a/b`.

mod debug;
mod initfs;
mod irq;
mod memory;
mod pci;
mod pipe;
mod root;
mod sys;
mod user;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec;
use alloc::vec::Vec;

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EEXIST, EINVAL, EIO, ENODEV, ENOENT, EOPNOTSUPP, Error, Result};
use tessera_abi::lock::FileLock;

pub use initfs::init as init_initfs;

/// What `fmap` of a handle maps (only `memory:` handles map today).
pub enum MemorySource {
    /// Anonymous memory, as fd `!0`.
    Anonymous,
    /// A shared memory object.
    Object(tessera_mm::SharedObject),
    /// Physical memory at the fmap offset, with this cacheability.
    Physical(tessera_mm::PhysKind),
    /// New physically contiguous, zeroed frames for each mapping
    /// (`crate::mm::dma`).
    Contiguous,
}

/// What a scheme lends for a file mapping (`MmapPrep`'s answer).
pub struct FmapLease {
    /// Page-aligned address, in the lender's address space, of the first requested file page.
    pub address: usize,
    /// The process whose address space holds those pages (the daemon that answered).
    pub lender: Weak<crate::process::Process>,
    /// That address space's id ([`crate::mm::UserSpace::id`]) when it
    /// answered: the lease dies with it (an exec replaces it).
    pub lender_space: u64,
}

/// Up to `max` bytes that `fill` copies into a zeroed buffer and counts
/// (more than the buffer is EIO): [`KernelScheme::read_vec`] of a scheme
/// that has no buffer of its own to hand over.
pub fn read_copied(fill: impl FnOnce(&mut [u8]) -> Result<usize>, max: usize) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; max];
    let n = fill(&mut buf)?;
    if n > max {
        return Err(Error::new(EIO));
    }
    buf.truncate(n);
    Ok(buf)
}

/// A scheme implemented in the kernel. Handles are the scheme's own ids.
pub trait KernelScheme: Send + Sync {
    /// Opens `path` (the part after `name:`) with Redox `O_*` flags.
    fn open(&self, _path: &str, _flags: usize) -> Result<usize> {
        Err(Error::new(ENOENT))
    }
    fn read(&self, _id: usize, _buf: &mut [u8]) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// [`Self::read`] of at most `max` bytes into a buffer of its own: a
    /// scheme whose bytes already sit in one (a user scheme's reply, a
    /// daemon's next request) hands it over instead of copying it into a
    /// zeroed buffer first. More than `max` bytes is EIO.
    fn read_vec(&self, id: usize, max: usize) -> Result<Vec<u8>> {
        read_copied(|buf| self.read(id, buf), max)
    }
    fn write(&self, _id: usize, _buf: &[u8]) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// [`Self::write`] of bytes the caller gives up: a user scheme sends
    /// them as the request's payload without a copy.
    fn write_vec(&self, id: usize, buf: Vec<u8>) -> Result<usize> {
        self.write(id, &buf)
    }
    /// `lseek`: `whence` is `SEEK_SET`/`SEEK_CUR`/`SEEK_END`.
    fn seek(&self, _id: usize, _offset: isize, _whence: usize) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    fn fstat(&self, _id: usize, _stat: &mut Stat) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    fn fsync(&self, _id: usize) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    fn ftruncate(&self, _id: usize, _len: usize) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Redox's named dup: a new handle for what `id` refers to, as named
    /// by `buf` (the plain `dup` shares the description and never gets
    /// here).
    fn dup(&self, _id: usize, _buf: &[u8]) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// What `fmap` of `id` maps. File mappings through filesystem schemes
    /// are not implemented yet (EOPNOTSUPP).
    fn memory_source(&self, _id: usize) -> Result<MemorySource> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Removes the file `path` names or, with `AT_REMOVEDIR` in `flags`,
    /// the empty directory (ENOENT, ENOTDIR, EISDIR, ENOTEMPTY).
    fn unlink(&self, _path: &str, _flags: usize) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Fills `buf` with whole `tessera_abi::dirent` records of directory
    /// `id`, from the entry `opaque` names; bytes written, 0 at the end.
    fn getdents(&self, _id: usize, _buf: &mut [u8], _opaque: u64) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Gives the file open as `id` the path `path` (within this scheme).
    fn frename(&self, _id: usize, _path: &str) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// fmap of a file: the scheme lends the pages holding `size` bytes of
    /// file `id` from `offset` (page-aligned), for a mapping with Redox
    /// `MapFlags` `flags` (`PROT_*` included).
    fn mmap_prep(&self, _id: usize, _offset: u64, _size: usize, _flags: usize) -> Result<FmapLease> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// The lent range (or part of it) is unmapped; `flags` are
    /// `MunmapFlags` bits (`NEEDS_SYNC`: write it back first). Without
    /// `wait` the call only sends the request (a process exiting must not
    /// wait for a daemon) and reports nothing the daemon says.
    fn munmap(&self, _id: usize, _offset: u64, _size: usize, _flags: usize, _wait: bool) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Writes the lent range back (`MS_*` flags).
    fn msync(&self, _id: usize, _offset: u64, _size: usize, _flags: usize) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Makes bytes `[offset, offset + len)` of the file read as zeroes, its
    /// size unchanged (MADV_REMOVE of a shared file mapping); EOPNOTSUPP
    /// where the scheme cannot.
    fn punch_hole(&self, _id: usize, _offset: u64, _len: u64) -> Result<()> {
        Err(Error::new(EOPNOTSUPP))
    }
    /// Sets, clears (`lock.kind` F_UNLCK) or, with `test`, tests a record
    /// lock of process `lock.owner` on file `id` (`tessera_abi::lock`):
    /// `Ok(Some(conflict))` only when testing; EAGAIN when another process's
    /// lock conflicts. EINVAL: the file does not support locks (POSIX).
    fn lock(&self, _id: usize, _lock: FileLock, _test: bool) -> Result<Option<FileLock>> {
        Err(Error::new(EINVAL))
    }
    /// A descriptor of file `id` was closed by process `owner`: its locks
    /// on the file go (one-way, nobody waits).
    fn unlock_all(&self, _id: usize, _owner: usize) {}
    /// The last descriptor for `id` went away.
    fn close(&self, _id: usize) -> Result<()> {
        Ok(())
    }
}

/// The scheme paths without one belong to.
pub const DEFAULT_SCHEME: &str = "file";

static SCHEMES: Mutex<BTreeMap<String, Arc<dyn KernelScheme>>> = Mutex::new(BTreeMap::new());
static PIPES: spin::Once<Arc<pipe::PipeScheme>> = spin::Once::new();

/// The pipe scheme, for `pipe2`.
pub fn pipes() -> Arc<dyn KernelScheme> {
    PIPES.get().expect("scheme::init ran").clone()
}

/// A new pipe: handle ids of its read and write ends in [`pipes`].
pub fn new_pipe() -> (usize, usize) {
    PIPES.get().expect("scheme::init ran").create()
}

/// Registers the kernel's schemes.
pub fn init() {
    let mut schemes = SCHEMES.lock();
    schemes.insert(String::from("debug"), Arc::new(debug::DebugScheme));
    schemes.insert(String::from("sys"), Arc::new(sys::SysScheme::default()));
    schemes.insert(String::from("memory"), Arc::new(memory::MemoryScheme::default()));
    schemes.insert(String::from("pci"), Arc::new(pci::PciScheme::default()));
    schemes.insert(String::from("irq"), Arc::new(irq::IrqScheme::default()));
    let pipes = PIPES.call_once(|| Arc::new(pipe::PipeScheme::default()));
    schemes.insert(String::from("pipe"), pipes.clone());
    if let Some(initfs) = initfs::scheme() {
        schemes.insert(String::from("initfs"), initfs);
    }
    // `:name` resolves to the name "" with the path "name".
    schemes.insert(String::new(), Arc::new(root::RootScheme::default()));
}

/// Adds `scheme` as `name` (a user scheme, from the root scheme). EEXIST
/// if the name is taken.
fn register(name: &str, scheme: Arc<dyn KernelScheme>) -> Result<()> {
    let mut schemes = SCHEMES.lock();
    if schemes.contains_key(name) {
        return Err(Error::new(EEXIST));
    }
    schemes.insert(String::from(name), scheme);
    Ok(())
}

/// Removes `name` if it still names `scheme`.
fn unregister(name: &str, scheme: &Arc<dyn KernelScheme>) {
    let mut schemes = SCHEMES.lock();
    if schemes.get(name).is_some_and(|s| Arc::ptr_eq(s, scheme)) {
        schemes.remove(name);
    }
}

/// The scheme a path names, and the path within it:
///
/// | path | scheme | path in the scheme |
/// |---|---|---|
/// | `/scheme/NAME/rest` | `NAME` | `rest` |
/// | `NAME:rest`, NAME without `/` | `NAME` (`:rest`: the root scheme) | `rest` |
/// | anything else: `/a/b`, `a/b`, `/a:b` | `file` ([`DEFAULT_SCHEME`]) | the whole path |
///
/// ENOENT for an empty path (POSIX), ENODEV for a scheme not registered
/// (`file:` included).
pub fn resolve(full: &str) -> Result<(Arc<dyn KernelScheme>, &str)> {
    let (name, path) = if let Some(rest) = full.strip_prefix("/scheme/") {
        rest.split_once('/').unwrap_or((rest, ""))
    } else if let Some((name, rest)) = full.split_once(':')
        && !name.contains('/')
    {
        (name, rest)
    } else if full.is_empty() {
        return Err(Error::new(ENOENT));
    } else {
        (DEFAULT_SCHEME, full)
    };
    let scheme = SCHEMES.lock().get(name).cloned().ok_or(Error::new(ENODEV))?;
    Ok((scheme, path))
}

/// Whether `a` and `b` are the same scheme.
pub fn same(a: &Arc<dyn KernelScheme>, b: &Arc<dyn KernelScheme>) -> bool {
    core::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// Reads from `text` at `*pos` into `buf`, advancing `*pos`: the bytes
/// read, 0 at or past the end (where `lseek` may leave the offset).
pub fn read_text(text: &[u8], pos: &mut usize, buf: &mut [u8]) -> usize {
    let rest = text.get(*pos..).unwrap_or_default();
    let n = buf.len().min(rest.len());
    buf[..n].copy_from_slice(&rest[..n]);
    *pos += n;
    n
}

/// Offset arithmetic for `lseek` on a file of `size` bytes.
pub fn seek_position(current: usize, size: usize, offset: isize, whence: usize) -> Result<usize> {
    use tessera_abi::flag::{SEEK_CUR, SEEK_END, SEEK_SET};
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => current,
        SEEK_END => size,
        _ => return Err(Error::new(tessera_abi::error::EINVAL)),
    };
    // Positions above isize::MAX would read back as negative offsets, and
    // the top 4095 values as errno results: refuse them.
    base.checked_add_signed(offset)
        .filter(|&pos| pos <= isize::MAX as usize)
        .ok_or(Error::new(tessera_abi::error::EINVAL))
}
