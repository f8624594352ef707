//! `irq:` — device interrupts for user-space drivers (`crate::irq`,
//! docs/drivers.md). Privileged processes only: every open by an
//! unprivileged one is EPERM (docs/kernel.md, "Privilege").
//!
//! | path | what |
//! |---|---|
//! | `msi` | a free MSI vector (x86_64; ENOSYS on aarch64, where MSIs need the GIC ITS); ENOSPC when none is left |
//! | `pci/SSSS:BB:DD.F` | the function's INTx line (aarch64, from the device tree; ENOSYS on x86_64, where it needs ACPI `_PRT`); ENOENT for no such function or no interrupt pin; a line several functions share may be held by several handles (each counts every interrupt; the line is let through again when one has acknowledged all of its count) |
//!
//! On the handle, `read` of 8 bytes waits until an interrupt arrived since
//! the last acknowledgement and returns how many (a native-endian `u64`);
//! a kill ends the wait. `write` of 8 bytes acknowledges that many (an
//! INTx line, masked since it fired, is let through again once all are
//! acknowledged: clear the device's cause first). Other lengths: EINVAL.
//! Named `dup(fd, "info")` opens a text handle reading one line,
//! `id=ID msi-address=0x... msi-data=0x...` for an MSI (program those into
//! the device's MSI or MSI-X table) or `id=INTID` for an INTx line. Closing
//! the last descriptor releases and masks the interrupt.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use tessera_abi::error::{EBADF, EINVAL, ENOENT, ENOSYS, EPERM, Error, Result};

use super::{KernelScheme, read_text};
use crate::irq::{self, Line};
use crate::sync::Mutex;
use crate::{arch, pci, process};

enum Handle {
    Line(Arc<Line>, irq::Holder),
    /// The `info` text and the read position.
    Info(String, usize),
}

#[derive(Default)]
pub struct IrqScheme {
    handles: Mutex<BTreeMap<usize, Handle>>,
    next_id: AtomicUsize,
}

impl IrqScheme {
    fn insert(&self, handle: Handle) -> usize {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.handles.lock().insert(id, handle);
        id
    }

    fn line(&self, id: usize) -> Result<(Arc<Line>, irq::Holder)> {
        match self.handles.lock().get(&id) {
            Some(Handle::Line(line, holder)) => Ok((line.clone(), *holder)),
            Some(Handle::Info(..)) => Err(Error::new(EINVAL)),
            None => Err(Error::new(EBADF)),
        }
    }
}

/// The line `path` names, claimed.
fn claim(path: &str) -> Result<(Arc<Line>, irq::Holder)> {
    if path == "msi" {
        if arch::irq::MSI_VECTORS.is_empty() {
            return Err(Error::new(ENOSYS));
        }
        return irq::claim_msi();
    }
    let address = path.strip_prefix("pci/").and_then(pci::Address::parse).ok_or(Error::new(ENOENT))?;
    let function = pci::function(address).ok_or(Error::new(ENOENT))?;
    if function.irq_pin == 0 {
        return Err(Error::new(ENOENT));
    }
    irq::claim(function.intx.ok_or(Error::new(ENOSYS))?, true)
}

/// Reads a native-endian `u64` from exactly 8 bytes.
fn word(buf: &[u8]) -> Result<u64> {
    Ok(u64::from_ne_bytes(buf.try_into().map_err(|_| Error::new(EINVAL))?))
}

impl KernelScheme for IrqScheme {
    fn open(&self, path: &str, _flags: usize) -> Result<usize> {
        if !process::current().is_privileged() {
            return Err(Error::new(EPERM));
        }
        let (line, holder) = claim(path.trim_matches('/'))?;
        Ok(self.insert(Handle::Line(line, holder)))
    }

    fn read(&self, id: usize, buf: &mut [u8]) -> Result<usize> {
        if let Some(Handle::Info(text, pos)) = self.handles.lock().get_mut(&id) {
            return Ok(read_text(text.as_bytes(), pos, buf));
        }
        let (line, holder) = self.line(id)?;
        word(buf)?;
        // Waits without the handle table's lock.
        let count = line.wait(holder)?;
        buf.copy_from_slice(&count.to_ne_bytes());
        Ok(buf.len())
    }

    fn write(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let (line, holder) = self.line(id)?;
        line.ack(holder, word(buf)?);
        Ok(buf.len())
    }

    fn dup(&self, id: usize, buf: &[u8]) -> Result<usize> {
        let (line, _) = self.line(id)?;
        if buf != b"info" {
            return Err(Error::new(EINVAL));
        }
        let text = match arch::irq::MSI_VECTORS.contains(&line.id).then(|| arch::irq::msi_message(line.id)).flatten() {
            Some((address, data)) => format!("id={:#x} msi-address={address:#x} msi-data={data:#x}\n", line.id),
            None => format!("id={}\n", line.id),
        };
        Ok(self.insert(Handle::Info(text, 0)))
    }

    fn close(&self, id: usize) -> Result<()> {
        match self.handles.lock().remove(&id) {
            Some(Handle::Line(line, holder)) => irq::release(&line, holder),
            Some(Handle::Info(..)) => {}
            None => return Err(Error::new(EBADF)),
        }
        Ok(())
    }
}
