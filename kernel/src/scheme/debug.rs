//! `debug:` — the kernel console. Writes go to the serial port; reads return
//! the bytes that have arrived, waiting (yielding the CPU) until at least
//! one has.

use tessera_abi::Stat;
use tessera_abi::error::{EINTR, Error, Result};
use tessera_abi::flag::MODE_CHR;

use super::KernelScheme;
use crate::{arch, console, process, sched};

pub struct DebugScheme;

impl KernelScheme for DebugScheme {
    fn open(&self, _path: &str, _flags: usize) -> Result<usize> {
        Ok(0)
    }

    fn read(&self, _id: usize, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut n = 0;
            while n < buf.len() {
                match arch::serial::read_byte() {
                    Some(b) => {
                        buf[n] = b;
                        n += 1;
                    }
                    None => break,
                }
            }
            if n > 0 {
                return Ok(n);
            }
            sched::yield_now();
            if process::kill_pending() {
                return Err(Error::new(EINTR));
            }
        }
    }

    fn write(&self, _id: usize, buf: &[u8]) -> Result<usize> {
        console::write_bytes(buf);
        Ok(buf.len())
    }

    fn fstat(&self, _id: usize, stat: &mut Stat) -> Result<()> {
        stat.st_mode = MODE_CHR | 0o666;
        Ok(())
    }

    fn fsync(&self, _id: usize) -> Result<()> {
        Ok(())
    }
}
