//! `initfs:` — the read-only files of the boot initfs (the archive the loader
//! passed; format in `kernel/initfs`). Opening a directory gives its entry
//! names, one per line, as its contents (Redox's convention).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Once;

use crate::sync::Mutex;
use tessera_abi::Stat;
use tessera_abi::error::{EACCES, EBADF, EISDIR, ENOENT, ENOTDIR, Error, Result};
use tessera_abi::flag::{MODE_DIR, MODE_FILE, O_ACCMODE, O_DIRECTORY, O_RDONLY};
use tessera_bootinfo::{KernelArgs, phys_to_virt};
use tessera_initfs::{InitFs, Kind};

use super::{KernelScheme, seek_position};
use crate::println;

static ARCHIVE: Once<InitFs<'static>> = Once::new();

/// Parses the initfs the loader passed; reports what it holds.
pub fn init(args: &KernelArgs) {
    // SAFETY: the loader copied the initfs into kernel-owned memory,
    // reachable through the physical window and never freed.
    let bytes = unsafe {
        core::slice::from_raw_parts(phys_to_virt(args.initfs_phys) as *const u8, args.initfs_size_bytes as usize)
    };
    match InitFs::parse(bytes) {
        Ok(fs) => {
            let files = fs.entries().filter(|e| e.kind == Kind::File).count();
            println!("initfs: {files} files, {} bytes", bytes.len());
            ARCHIVE.call_once(|| fs);
        }
        Err(e) => println!("initfs: not a valid archive ({e:?}); no initfs: scheme"),
    }
}

/// The archive, if the loader passed a valid one.
pub fn archive() -> Option<InitFs<'static>> {
    ARCHIVE.get().copied()
}

/// The scheme, if there is an archive.
pub fn scheme() -> Option<Arc<dyn KernelScheme>> {
    let fs = archive()?;
    Some(Arc::new(InitFsScheme { fs, next: AtomicUsize::new(0), open: Mutex::new(BTreeMap::new()) }))
}

enum Handle {
    File { data: &'static [u8], mode: u16, pos: usize },
    Dir { listing: String, pos: usize },
}

struct InitFsScheme {
    fs: InitFs<'static>,
    next: AtomicUsize,
    open: Mutex<BTreeMap<usize, Handle>>,
}

impl KernelScheme for InitFsScheme {
    fn open(&self, path: &str, flags: usize) -> Result<usize> {
        if flags & O_ACCMODE != O_RDONLY && flags & O_ACCMODE != 0 {
            return Err(Error::new(EACCES));
        }
        let path = path.trim_matches('/');
        let handle = if path.is_empty() {
            Handle::Dir { listing: self.listing(""), pos: 0 }
        } else {
            let entry = self.fs.get(path).ok_or(Error::new(ENOENT))?;
            match entry.kind {
                Kind::File if flags & O_DIRECTORY != 0 => return Err(Error::new(ENOTDIR)),
                Kind::File => Handle::File { data: entry.data, mode: entry.mode, pos: 0 },
                Kind::Directory => Handle::Dir { listing: self.listing(entry.path), pos: 0 },
            }
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.lock().insert(id, handle);
        Ok(id)
    }

    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        let mut open = self.open.lock();
        let (bytes, pos) = match open.get_mut(&id).ok_or(Error::new(EBADF))? {
            Handle::File { data, pos, .. } => (*data, pos),
            Handle::Dir { listing, pos } => (listing.as_bytes(), pos),
        };
        // A position past the end (lseek allows it) reads nothing.
        let start = (*pos).min(bytes.len());
        let n = buf.len().min(bytes.len() - start);
        buf[..n].copy_from_slice(&bytes[start..start + n]);
        *pos += n;
        Ok(n)
    }

    fn write(&self, id: usize, _buf: &[u8]) -> Result<usize> {
        match self.open.lock().get(&id).ok_or(Error::new(EBADF))? {
            Handle::File { .. } => Err(Error::new(EBADF)),
            Handle::Dir { .. } => Err(Error::new(EISDIR)),
        }
    }

    fn seek(&self, id: usize, offset: isize, whence: usize) -> Result<usize> {
        let mut open = self.open.lock();
        let (len, pos) = match open.get_mut(&id).ok_or(Error::new(EBADF))? {
            Handle::File { data, pos, .. } => (data.len(), pos),
            Handle::Dir { listing, pos } => (listing.len(), pos),
        };
        *pos = seek_position(*pos, len, offset, whence)?;
        Ok(*pos)
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        match self.open.lock().get(&id).ok_or(Error::new(EBADF))? {
            Handle::File { data, mode, .. } => {
                stat.st_mode = MODE_FILE | mode;
                stat.st_size = data.len() as u64;
            }
            Handle::Dir { listing, .. } => {
                stat.st_mode = MODE_DIR | 0o555;
                stat.st_size = listing.len() as u64;
            }
        }
        Ok(())
    }

    fn close(&self, id: usize) -> Result<()> {
        self.open.lock().remove(&id).map(|_| ()).ok_or(Error::new(EBADF))
    }
}

impl InitFsScheme {
    fn listing(&self, dir: &str) -> String {
        let mut text = String::new();
        for child in self.fs.children(dir).into_iter().flatten() {
            text.push_str(child.name());
            text.push('\n');
        }
        text
    }
}
