//! `pci:` — the PCI functions the kernel found at boot (`crate::pci`), for
//! driver daemons. Privileged processes only: every open by an
//! unprivileged one is EPERM (docs/kernel.md, "Privilege").
//!
//! | path | what |
//! |---|---|
//! | `` (or `/`) | a text listing, one line per function: `SSSS:BB:DD.F VVVV:DDDD class=CCSSPP pin=N` then ` barI=KIND:ADDRESS:SIZE` per implemented BAR (docs/drivers.md) |
//! | `SSSS:BB:DD.F` | the function's 4 KiB configuration space: `read`/`write` of 1, 2 or 4 bytes at the file offset, which must be a multiple of the length (EINVAL otherwise, and past 4 KiB); `lseek` moves within it |
//!
//! An address with no function behind it is ENOENT. The listing is made at
//! open; configuration accesses go straight to the device (ECAM).

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::fmt::Write;
use core::sync::atomic::{AtomicUsize, Ordering};

use tessera_abi::Stat;
use tessera_abi::error::{EBADF, EINVAL, ENOENT, EPERM, Error, Result};
use tessera_abi::flag::MODE_FILE;

use super::{KernelScheme, read_text, seek_position};
use crate::pci::{self, CONFIG_BYTES, Function};
use crate::process;
use crate::sync::Mutex;

enum Handle {
    /// The listing and the read position.
    List(String, usize),
    /// A function's configuration space and the file offset.
    Config(&'static Function, usize),
}

#[derive(Default)]
pub struct PciScheme {
    handles: Mutex<BTreeMap<usize, Handle>>,
    next_id: AtomicUsize,
}

/// The listing: one line per function.
fn listing() -> String {
    let mut text = String::new();
    for f in pci::functions() {
        let _ = write!(text, "{} {:04x}:{:04x} class={:06x} pin={}", f.address, f.vendor, f.device, f.class, f.irq_pin);
        for (index, bar) in &f.bars {
            let _ = write!(text, " bar{index}={bar}");
        }
        text.push('\n');
    }
    text
}

impl PciScheme {
    /// Runs `f` on the configuration handle `id`: the function and offset.
    fn with_config<R>(&self, id: usize, f: impl FnOnce(&Function, &mut usize) -> Result<R>) -> Result<R> {
        match self.handles.lock().get_mut(&id) {
            Some(Handle::Config(function, pos)) => f(function, pos),
            Some(Handle::List(..)) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }
}

impl KernelScheme for PciScheme {
    fn open(&self, path: &str, _flags: usize) -> Result<usize> {
        if !process::current().is_privileged() {
            return Err(Error::new(EPERM));
        }
        let handle = match path.trim_matches('/') {
            "" => Handle::List(listing(), 0),
            address => {
                let address = pci::Address::parse(address).ok_or(Error::new(ENOENT))?;
                Handle::Config(pci::function(address).ok_or(Error::new(ENOENT))?, 0)
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(id, handle);
        Ok(id)
    }

    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        if let Some(Handle::List(text, pos)) = self.handles.lock().get_mut(&id) {
            return Ok(read_text(text.as_bytes(), pos, buf));
        }
        self.with_config(id, |function, pos| {
            let value = function.read(*pos, buf.len()).map_err(|_| Error::new(EINVAL))?;
            buf.copy_from_slice(&value.to_le_bytes()[..buf.len()]);
            *pos += buf.len();
            Ok(buf.len())
        })
    }

    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        self.with_config(id, |function, pos| {
            let mut bytes = [0u8; 4];
            bytes.get_mut(..buf.len()).ok_or(Error::new(EINVAL))?.copy_from_slice(buf);
            function.write(*pos, buf.len(), u32::from_le_bytes(bytes)).map_err(|_| Error::new(EINVAL))?;
            *pos += buf.len();
            Ok(buf.len())
        })
    }

    fn seek(&self, id: usize, offset: isize, whence: usize) -> Result<usize> {
        match self.handles.lock().get_mut(&id) {
            Some(Handle::List(text, pos)) => {
                *pos = seek_position(*pos, text.len(), offset, whence)?;
                Ok(*pos)
            }
            Some(Handle::Config(_, pos)) => {
                *pos = seek_position(*pos, CONFIG_BYTES, offset, whence)?;
                Ok(*pos)
            }
            None => Err(Error::new(EBADF)),
        }
    }

    fn fstat(&self, id: usize, stat: &mut Stat) -> Result<()> {
        let size = match self.handles.lock().get(&id) {
            Some(Handle::List(text, _)) => text.len(),
            Some(Handle::Config(..)) => CONFIG_BYTES,
            None => return Err(Error::new(EBADF)),
        };
        stat.st_mode = MODE_FILE | 0o600;
        stat.st_size = size as u64;
        Ok(())
    }

    fn close(&self, id: usize) -> Result<()> {
        self.handles.lock().remove(&id).map(|_| ()).ok_or(Error::new(EBADF))
    }
}
