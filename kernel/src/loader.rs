//! Program files for `execve` and for starting init: opened through the
//! scheme layer and read piece by piece (the ELF headers, and whatever
//! `exec` copies). Pages the file's scheme can lend are not read at all:
//! `exec` maps them from the scheme (docs/fmap.md, "exec").

use alloc::sync::Arc;

use tessera_abi::Stat;
use tessera_abi::error::{ENOEXEC, Error, Result};
use tessera_abi::flag::{O_RDONLY, SEEK_SET};

use crate::file::Description;
use crate::scheme;

/// An open program file.
pub struct ProgramFile {
    /// Kept by every lease of its pages, so the file stays open while the
    /// program runs from it.
    pub description: Arc<Description>,
    /// Its size in bytes (`fstat`).
    pub size: u64,
}

impl ProgramFile {
    /// Opens the file at `path` (`scheme:path`) for reading.
    pub fn open(path: &str) -> Result<Self> {
        let (scheme, rest) = scheme::resolve(path)?;
        let id = scheme.open(rest, O_RDONLY)?;
        // From here on, dropping the description closes the file.
        let description = Arc::new(Description { scheme, id, flags: O_RDONLY });
        let mut stat = Stat::default();
        description.scheme.fstat(id, &mut stat)?;
        Ok(Self { description, size: stat.st_size })
    }

    /// Fills `buf` with the file's bytes from `offset`: ENOEXEC if the
    /// file ends first (the headers promised bytes that are not there).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let file = &self.description;
        let offset = isize::try_from(offset).map_err(|_| Error::new(ENOEXEC))?;
        file.scheme.seek(file.id, offset, SEEK_SET)?;
        let mut done = 0;
        while done < buf.len() {
            match file.scheme.read(file.id, &mut buf[done..])? {
                0 => return Err(Error::new(ENOEXEC)),
                n => done += n,
            }
        }
        Ok(())
    }
}
