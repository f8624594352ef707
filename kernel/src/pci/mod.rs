//! PCI functions, found once at boot through ECAM (PCI Express Base
//! Specification 6.0 §7.2.2, "PCI Express Enhanced Configuration Access
//! Mechanism"): every function has a 4 KiB configuration space at
//! `base + (bus << 20 | device << 15 | function << 12)` of its ECAM window.
//!
//! The arch finds the windows (`arch::pci::ecam_regions`: ACPI MCFG on
//! x86_64, the device tree on aarch64); this module walks them, records
//! each function with the BARs the firmware assigned (`bar.rs` sizes them),
//! and gives the `pci:` scheme checked configuration-space access
//! ([`Function::read`], [`Function::write`]). Nothing here programs a
//! device: drivers do, from user space (docs/drivers.md).

mod bar;

use alloc::vec::Vec;

use spin::Once;
use tessera_bootinfo::{KernelArgs, phys_to_virt};

pub use bar::Bar;

/// One ECAM window: buses `bus_start..=bus_end` of `segment`, bus
/// `bus_start`'s configuration space at `base_phys`.
#[derive(Clone, Copy, Debug)]
pub struct EcamRegion {
    pub segment: u16,
    pub base_phys: u64,
    pub bus_start: u8,
    pub bus_end: u8,
}

/// A function's address: segment, bus, device (0-31), function (0-7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Address {
    pub segment: u16,
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl core::fmt::Display for Address {
    /// `SSSS:BB:DD.F` in hex, as Linux's `lspci -D`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:04x}:{:02x}:{:02x}.{:x}", self.segment, self.bus, self.device, self.function)
    }
}

impl Address {
    /// Parses `SSSS:BB:DD.F` (hex; exactly what `Display` writes).
    pub fn parse(text: &str) -> Option<Self> {
        let hex = |s: &str, digits: usize| (s.len() == digits).then(|| u32::from_str_radix(s, 16).ok()).flatten();
        let (segment, rest) = text.split_once(':')?;
        let (bus, rest) = rest.split_once(':')?;
        let (device, function) = rest.split_once('.')?;
        let address = Self {
            segment: hex(segment, 4)? as u16,
            bus: hex(bus, 2)? as u8,
            device: hex(device, 2)? as u8,
            function: hex(function, 1)? as u8,
        };
        (address.device < 32 && address.function < 8).then_some(address)
    }
}

/// Size of one function's configuration space.
pub const CONFIG_BYTES: usize = 4096;

/// Why a configuration access is refused (EINVAL at the scheme).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAccess;

/// A function found at boot.
#[derive(Clone, Debug)]
pub struct Function {
    pub address: Address,
    /// Physical address of its 4 KiB configuration space.
    pub config_phys: u64,
    pub vendor: u16,
    pub device: u16,
    /// Class code, subclass and programming interface (`0xCCSSPP`).
    pub class: u32,
    /// Header type without the multi-function bit (0: device, 1: bridge).
    pub header_type: u8,
    /// Interrupt pin: 0 none, 1-4 INTA-INTD.
    pub irq_pin: u8,
    /// The interrupt the pin reaches, where the arch knows
    /// (`arch::pci::intx`: the GIC INTID on aarch64, none on x86_64).
    pub intx: Option<u32>,
    /// The BARs as the firmware assigned them (index, BAR); a 64-bit BAR
    /// takes its index and the next.
    pub bars: Vec<(u8, Bar)>,
}

impl Function {
    /// Reads `width` (1, 2 or 4) bytes at `offset`, which must be a
    /// multiple of `width` inside the 4 KiB space.
    pub fn read(&self, offset: usize, width: usize) -> Result<u32, BadAccess> {
        let at = self.checked(offset, width)?;
        // SAFETY: `at` is inside this function's configuration space, which
        // `init` made reachable through the physical window as device
        // memory, aligned to `width`.
        Ok(unsafe {
            match width {
                1 => u32::from(core::ptr::read_volatile(at as *const u8)),
                2 => u32::from(core::ptr::read_volatile(at as *const u16)),
                _ => core::ptr::read_volatile(at as *const u32),
            }
        })
    }

    /// Writes the low `width` bytes of `value` at `offset` (as [`Self::read`]).
    pub fn write(&self, offset: usize, width: usize, value: u32) -> Result<(), BadAccess> {
        let at = self.checked(offset, width)?;
        // SAFETY: as in `read`; configuration writes reach only this function.
        unsafe {
            match width {
                1 => core::ptr::write_volatile(at as *mut u8, value as u8),
                2 => core::ptr::write_volatile(at as *mut u16, value as u16),
                _ => core::ptr::write_volatile(at as *mut u32, value),
            }
        }
        Ok(())
    }

    /// The kernel address of `offset`, if `offset`/`width` is an aligned
    /// 1, 2 or 4-byte access inside the space.
    fn checked(&self, offset: usize, width: usize) -> Result<u64, BadAccess> {
        let ok = matches!(width, 1 | 2 | 4) && offset.is_multiple_of(width) && offset + width <= CONFIG_BYTES;
        if ok { Ok(phys_to_virt(self.config_phys) + offset as u64) } else { Err(BadAccess) }
    }
}

static FUNCTIONS: Once<Vec<Function>> = Once::new();

/// The functions found at boot (empty before [`init`] or without ECAM).
pub fn functions() -> &'static [Function] {
    FUNCTIONS.get().map(Vec::as_slice).unwrap_or(&[])
}

/// The function at `address`.
pub fn function(address: Address) -> Option<&'static Function> {
    functions().iter().find(|f| f.address == address)
}

/// Finds the ECAM windows and every function behind them. Boot only,
/// before other CPUs start (it maps the windows, `mm::map_device_window`).
pub fn init(args: &KernelArgs) {
    let regions = match crate::arch::pci::ecam_regions(args) {
        Ok(regions) => regions,
        Err(why) => {
            crate::println!("pci: none ({why})");
            FUNCTIONS.call_once(Vec::new);
            return;
        }
    };
    let mut found = Vec::new();
    for region in &regions {
        let buses = u64::from(region.bus_end - region.bus_start) + 1;
        if let Err(why) = crate::mm::map_device_window(region.base_phys, buses << 20) {
            crate::println!("pci: segment {} at {:#x} skipped ({why})", region.segment, region.base_phys);
            continue;
        }
        for bus in region.bus_start..=region.bus_end {
            scan_bus(region, bus, &mut found);
        }
    }
    for f in found.iter_mut().filter(|f| f.irq_pin != 0) {
        f.intx = crate::arch::pci::intx(args, f.address, f.irq_pin);
    }
    crate::println!("pci: {} functions in {} ECAM windows", found.len(), regions.len());
    FUNCTIONS.call_once(|| found);
}

/// Records every function present on `bus`.
fn scan_bus(region: &EcamRegion, bus: u8, found: &mut Vec<Function>) {
    for device in 0..32u8 {
        for function in 0..8u8 {
            let address = Address { segment: region.segment, bus, device, function };
            let offset =
                (u64::from(bus - region.bus_start) << 20) | (u64::from(device) << 15) | (u64::from(function) << 12);
            let Some(f) = probe(address, region.base_phys + offset) else {
                if function == 0 {
                    break;
                }
                continue;
            };
            let multi = f.read(0x0E, 1).is_ok_and(|h| h & 0x80 != 0);
            found.push(f);
            if function == 0 && !multi {
                break;
            }
        }
    }
}

/// The function whose configuration space is at `config_phys`, if one is
/// there (vendor ID not all ones).
fn probe(address: Address, config_phys: u64) -> Option<Function> {
    let mut f = Function {
        address,
        config_phys,
        vendor: 0,
        device: 0,
        class: 0,
        header_type: 0,
        irq_pin: 0,
        intx: None,
        bars: Vec::new(),
    };
    let id = f.read(0x00, 4).ok()?;
    if id & 0xFFFF == 0xFFFF {
        return None;
    }
    (f.vendor, f.device) = (id as u16, (id >> 16) as u16);
    f.class = f.read(0x08, 4).ok()? >> 8;
    f.header_type = f.read(0x0E, 1).ok()? as u8 & 0x7F;
    f.irq_pin = f.read(0x3D, 1).ok()? as u8;
    f.bars = bar::size_all(&f);
    Some(f)
}
