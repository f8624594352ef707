//! Schemes: named resource providers addressed as `name:path` (or
//! `/scheme/name/path`). Kernel schemes implement [`KernelScheme`], whose
//! methods all default to EOPNOTSUPP, so a scheme answers only what it
//! really supports.
//!
//! | scheme | what |
//! |---|---|
//! | `debug:` | the console: write prints, read polls the serial input |
//! | `initfs:` | read-only files of the boot initfs |
//! | `memory:` | memory to `fmap`: anonymous, shared objects, physical (`memory.rs`) |
//! | `pipe:` | anonymous pipes made by `pipe2` |
//! | `sys:` | read-only text about the kernel: `memory`, `processes`, `scheduler` |
//! | `:` | the root scheme: a daemon registers `name:` with `open(":name", O_CREAT \| O_RDWR)` |
//! | `name:` | a user scheme: calls become requests to its daemon (`user.rs`, `docs/schemes.md`) |

mod debug;
mod initfs;
mod memory;
mod pipe;
mod root;
mod sys;
mod user;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EEXIST, ENODEV, ENOENT, EOPNOTSUPP, Error, Result};

pub use initfs::init as init_initfs;

/// What `fmap` of a handle maps (only `memory:` handles map today).
pub enum MemorySource {
    /// Anonymous memory, as fd `!0`.
    Anonymous,
    /// A shared memory object.
    Object(tessera_mm::SharedObject),
    /// Physical memory at the fmap offset, with this cacheability.
    Physical(tessera_mm::PhysKind),
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
    fn write(&self, _id: usize, _buf: &[u8]) -> Result<usize> {
        Err(Error::new(EOPNOTSUPP))
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
    /// The last descriptor for `id` went away.
    fn close(&self, _id: usize) -> Result<()> {
        Ok(())
    }
}

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

/// Splits `name:path` or `/scheme/name/path` and finds the scheme.
pub fn resolve(full: &str) -> Result<(Arc<dyn KernelScheme>, &str)> {
    let (name, path) = if let Some(rest) = full.strip_prefix("/scheme/") {
        rest.split_once('/').unwrap_or((rest, ""))
    } else {
        full.split_once(':').ok_or(Error::new(ENOENT))?
    };
    let scheme = SCHEMES.lock().get(name).cloned().ok_or(Error::new(ENODEV))?;
    Ok((scheme, path))
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
