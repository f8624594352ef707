//! The `disk:` scheme over the started devices (paths: the library's
//! `path` module; byte I/O: its `io` module; errors: docs/drivers.md).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::gpt::{self, GptError, SECTOR, Table};
use crate::io::{Sectors, Window, read_at, write_at};
use crate::list::queue_list;
use crate::path::{Target, parse};
use tessera_runtime::abi::error::{EACCES, EBADF, EINVAL, ENOENT, ENOTDIR, EROFS};
use tessera_runtime::abi::flag::{MODE_FILE, O_ACCMODE, O_DIRECTORY, O_RDWR, O_WRONLY};
use tessera_runtime::abi::{Error, Result, Stat};
use tessera_runtime::scheme::{CallerCtx, Opened, Scheme};

use super::device::BlkDevice;

/// One started device and its partition table.
pub struct Disk {
    address: String,
    device: BlkDevice,
    /// The device's ID string (QEMU's `serial=`), maybe empty.
    id: String,
    gpt: core::result::Result<Table, GptError>,
}

impl Disk {
    /// Reads the device's ID and GPT.
    pub fn new(address: String, mut device: BlkDevice) -> Self {
        let id = device.id();
        let capacity = device.capacity;
        let gpt = gpt::read(capacity, |lba, buf| device.read_sectors(lba, buf));
        Self { address, device, id, gpt }
    }

    /// The listing line of the whole disk (after `N `).
    pub fn describe(&self) -> String {
        let id = if self.id.is_empty() { "-" } else { &self.id };
        let gpt = match &self.gpt {
            Ok(t) => format!("gpt={} partitions={}", if t.primary { "primary" } else { "backup" }, t.entries.len()),
            Err(e) => format!("gpt=none({e:?})"),
        };
        format!(
            "pci={} id={id} sectors={} {} irq={} {gpt}",
            self.address,
            self.device.capacity,
            if self.device.readonly { "ro" } else { "rw" },
            self.device.irq_kind
        )
    }

    /// The window of the whole disk or of partition `part`.
    fn window(&self, part: Option<u32>) -> Option<Window> {
        let Some(number) = part else { return Some(Window { first: 0, sectors: self.device.capacity }) };
        let entry = self.gpt.as_ref().ok()?.entries.iter().find(|e| e.number == number && !e.bad)?;
        Some(Window { first: entry.first_lba, sectors: entry.sectors() })
    }
}

/// An open file.
enum Handle {
    /// The listing or the statistics, as they were at open.
    Text(Vec<u8>),
    /// A disk or partition: its disk, window, whether it was opened for
    /// writing, and whether its writes are queued (`dup(fd, "queue")`).
    Blocks { disk: usize, window: Window, writable: bool, queued: bool },
}

/// The scheme: the disks and the open files.
pub struct Disks {
    disks: Vec<Disk>,
    handles: BTreeMap<usize, Handle>,
    next_id: usize,
}

impl Disks {
    pub fn new(disks: Vec<Disk>) -> Self {
        Self { disks, handles: BTreeMap::new(), next_id: 1 }
    }

    fn listing(&self) -> String {
        let mut text = String::new();
        for (n, disk) in self.disks.iter().enumerate() {
            text += &format!("{n} {}\n", disk.describe());
            for e in disk.gpt.iter().flat_map(|t| &t.entries) {
                text += &format!(
                    "{n}p{} first={} sectors={} name={}{}\n",
                    e.number,
                    e.first_lba,
                    e.last_lba.wrapping_sub(e.first_lba).wrapping_add(1),
                    if e.name.is_empty() { "-" } else { &e.name },
                    if e.bad { " bad" } else { "" }
                );
            }
        }
        text
    }

    fn stats(&self) -> String {
        self.disks
            .iter()
            .enumerate()
            .map(|(n, d)| {
                let s = d.device.stats;
                format!(
                    "{n} requests={} interrupts={} errors={} queued={} inflight-max={} doorbells={}\n",
                    s.requests,
                    s.interrupts,
                    s.errors,
                    s.queued,
                    d.device.inflight_peak(),
                    s.doorbells
                )
            })
            .collect()
    }

    /// Gives `handle` the next id.
    fn insert(&mut self, handle: Handle) -> Opened {
        let id = self.next_id;
        self.next_id += 1;
        self.handles.insert(id, handle);
        Opened { id, positioned: true }
    }

    fn handle(&self, id: usize) -> Result<&Handle> {
        self.handles.get(&id).ok_or(Error::new(EBADF))
    }
}

impl Scheme for Disks {
    fn open(&mut self, path: &str, flags: usize, _ctx: &CallerCtx) -> Result<Opened> {
        let target = parse(path).ok_or(Error::new(ENOENT))?;
        let access = flags & O_ACCMODE;
        let writes = access == O_WRONLY || access == O_RDWR;
        let handle = match target {
            Target::List | Target::Stats => {
                if writes {
                    return Err(Error::new(EACCES));
                }
                let text = if target == Target::List { self.listing() } else { self.stats() };
                Handle::Text(text.into_bytes())
            }
            Target::Disk { disk, part } => {
                if flags & O_DIRECTORY != 0 {
                    return Err(Error::new(ENOTDIR));
                }
                let d = self.disks.get(disk).ok_or(Error::new(ENOENT))?;
                let window = d.window(part).ok_or(Error::new(ENOENT))?;
                if writes && d.device.readonly {
                    return Err(Error::new(EROFS));
                }
                Handle::Blocks { disk, window, writable: writes, queued: false }
            }
        };
        Ok(self.insert(handle))
    }

    /// `dup(fd, "queue")` of a disk or partition open for writing: the same
    /// window, its writes queued. EBADF read-only, EINVAL any other name.
    fn dup(&mut self, id: usize, name: &[u8], _ctx: &CallerCtx) -> Result<Opened> {
        match *self.handle(id)? {
            Handle::Blocks { disk, window, writable: true, .. } if name == b"queue" => {
                Ok(self.insert(Handle::Blocks { disk, window, writable: true, queued: true }))
            }
            Handle::Blocks { writable: false, .. } if name == b"queue" => Err(Error::new(EBADF)),
            _ => Err(Error::new(EINVAL)),
        }
    }

    fn read(&mut self, id: usize, buf: &mut [u8], offset: u64) -> Result<usize> {
        match *self.handle(id)? {
            Handle::Text(ref text) => {
                let rest = usize::try_from(offset).ok().and_then(|o| text.get(o..)).unwrap_or(&[]);
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                Ok(n)
            }
            Handle::Blocks { disk, window, .. } => read_at(&mut self.disks[disk].device, window, offset, buf),
        }
    }

    fn write(&mut self, id: usize, buf: &[u8], offset: u64) -> Result<usize> {
        match *self.handle(id)? {
            Handle::Text(_) | Handle::Blocks { writable: false, .. } => Err(Error::new(EBADF)),
            Handle::Blocks { disk, window, writable: true, queued: false } => {
                write_at(&mut self.disks[disk].device, window, offset, buf)
            }
            // A list of writes at offsets of their own (the file offset
            // plays no part).
            Handle::Blocks { disk, window, writable: true, queued: true } => {
                queue_list(&mut self.disks[disk].device, window, buf)
            }
        }
    }

    fn fstat(&mut self, id: usize, stat: &mut Stat) -> Result<()> {
        let (size, mode) = match self.handle(id)? {
            Handle::Text(text) => (text.len() as u64, 0o444),
            Handle::Blocks { disk, window, .. } => {
                (window.bytes(), if self.disks[*disk].device.readonly { 0o400 } else { 0o600 })
            }
        };
        *stat = Stat {
            st_mode: MODE_FILE | mode,
            st_size: size,
            st_blksize: SECTOR as u32,
            st_blocks: size.div_ceil(SECTOR as u64),
            st_nlink: 1,
            ..Stat::default()
        };
        Ok(())
    }

    fn fsync(&mut self, id: usize) -> Result<()> {
        match *self.handle(id)? {
            Handle::Text(_) => Err(Error::new(EINVAL)),
            Handle::Blocks { disk, queued: false, .. } => self.disks[disk].device.flush().map_err(Error::from),
            Handle::Blocks { disk, queued: true, .. } => self.disks[disk].device.wait_queued().map_err(Error::from),
        }
    }

    fn close(&mut self, id: usize) {
        self.handles.remove(&id);
    }
}
