//! Schemes: named resource providers addressed as `name:path` (or
//! `/scheme/name/path`). Kernel schemes implement [`KernelScheme`], whose
//! methods all default to EOPNOTSUPP, so a scheme answers only what it
//! really supports.
//!
//! | scheme | what |
//! |---|---|
//! | `debug:` | the console: write prints, read polls the serial input |
//! | `initfs:` | read-only files of the boot initfs |
//! | `pipe:` | anonymous pipes made by `pipe2` |
//! | `sys:` | read-only text about the kernel: `memory`, `processes`, `scheduler` |

mod debug;
mod initfs;
mod pipe;
mod sys;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;

use spin::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{ENODEV, ENOENT, EOPNOTSUPP, Error, Result};

pub use initfs::init as init_initfs;

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
    let pipes = PIPES.call_once(|| Arc::new(pipe::PipeScheme::default()));
    schemes.insert(String::from("pipe"), pipes.clone());
    if let Some(initfs) = initfs::scheme() {
        schemes.insert(String::from("initfs"), initfs);
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
    base.checked_add_signed(offset).ok_or(Error::new(tessera_abi::error::EINVAL))
}
