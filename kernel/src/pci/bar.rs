//! Base address registers: where the firmware put a function's registers
//! and how big they are (PCI Local Bus Specification 3.0 §6.2.5.1,
//! "Address Maps": write all ones, read back, the zero bits give the size).
//! Sizing happens once at boot with the function's decoding turned off for
//! the moment, and the BAR and command register restored.

use alloc::vec::Vec;

use super::Function;

/// What a BAR decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// I/O ports (x86 `in`/`out`; on aarch64 a window the host bridge maps).
    Io,
    /// Memory, 32-bit address.
    Memory32 { prefetchable: bool },
    /// Memory, 64-bit address (this BAR and the next).
    Memory64 { prefetchable: bool },
}

/// One implemented BAR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub kind: BarKind,
    /// The address the firmware assigned (0 if it assigned none).
    pub address: u64,
    pub size_bytes: u64,
}

impl core::fmt::Display for Bar {
    /// `KIND:ADDRESS:SIZE`, KIND one of `io`, `mem32`, `mem64`, with `p`
    /// appended when prefetchable; numbers in hex with `0x`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let kind = match self.kind {
            BarKind::Io => "io",
            BarKind::Memory32 { prefetchable: false } => "mem32",
            BarKind::Memory32 { prefetchable: true } => "mem32p",
            BarKind::Memory64 { prefetchable: false } => "mem64",
            BarKind::Memory64 { prefetchable: true } => "mem64p",
        };
        write!(f, "{kind}:{:#x}:{:#x}", self.address, self.size_bytes)
    }
}

const COMMAND: usize = 0x04;
/// Command register bits 0 (I/O space) and 1 (memory space).
const DECODE: u32 = 0b11;
const FIRST_BAR: usize = 0x10;

/// The implemented BARs of `f` (6 for a device, 2 for a bridge).
pub fn size_all(f: &Function) -> Vec<(u8, Bar)> {
    let count = match f.header_type {
        0 => 6,
        1 => 2,
        _ => 0,
    };
    let mut bars = Vec::new();
    let Ok(command) = f.read(COMMAND, 2) else { return bars };
    let _ = f.write(COMMAND, 2, command & !DECODE);
    let mut index = 0;
    while index < count {
        let (bar, slots) = size_one(f, FIRST_BAR + index * 4);
        if let Some(bar) = bar {
            bars.push((index as u8, bar));
        }
        index += slots;
    }
    let _ = f.write(COMMAND, 2, command);
    bars
}

/// The BAR at `offset`, if implemented, and how many BAR slots it takes.
fn size_one(f: &Function, offset: usize) -> (Option<Bar>, usize) {
    let probe = |at: usize| -> u32 {
        let original = f.read(at, 4).unwrap_or(0);
        let _ = f.write(at, 4, u32::MAX);
        let mask = f.read(at, 4).unwrap_or(0);
        let _ = f.write(at, 4, original);
        mask
    };
    let Ok(low) = f.read(offset, 4) else { return (None, 1) };
    let low_mask = probe(offset);
    if low & 1 == 1 {
        let mask = low_mask & !0x3;
        let bar = (mask != 0).then(|| Bar {
            kind: BarKind::Io,
            address: u64::from(low & !0x3),
            size_bytes: u64::from((!mask & 0xFFFF) + 1),
        });
        return (bar, 1);
    }
    let prefetchable = low & 0x8 != 0;
    if (low >> 1) & 0x3 == 0x2 && offset + 4 < FIRST_BAR + 24 {
        let high = f.read(offset + 4, 4).unwrap_or(0);
        let mask = u64::from(probe(offset + 4)) << 32 | u64::from(low_mask & !0xF);
        let bar = (mask != 0).then(|| Bar {
            kind: BarKind::Memory64 { prefetchable },
            address: u64::from(high) << 32 | u64::from(low & !0xF),
            size_bytes: (!mask).wrapping_add(1),
        });
        return (bar, 2);
    }
    let mask = low_mask & !0xF;
    let bar = (mask != 0).then(|| Bar {
        kind: BarKind::Memory32 { prefetchable },
        address: u64::from(low & !0xF),
        size_bytes: u64::from((!mask).wrapping_add(1)),
    });
    (bar, 1)
}
