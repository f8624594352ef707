//! The target architectures an image can be made for, and what differs between them
//! on the ESP (only the removable-media boot path the firmware looks for).

use std::fmt;
use std::str::FromStr;

/// A target architecture, as spelled on the command line (`--arch`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// `x86_64`: OVMF boots `EFI/BOOT/BOOTX64.EFI`.
    X86_64,
    /// `aarch64`: AAVMF / edk2 ArmVirtQemu boots `EFI/BOOT/BOOTAA64.EFI`.
    Aarch64,
}

impl Arch {
    /// Every supported architecture, for help text and tests.
    pub const ALL: [Arch; 2] = [Arch::X86_64, Arch::Aarch64];

    /// The name used on the command line and in `build/<arch>/`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// File name of the default boot application in `EFI/BOOT/` (UEFI spec 2.10,
    /// §3.5.1.1 "Removable Media Boot Behavior", table of machine-type file names).
    pub fn boot_file_name(self) -> &'static str {
        match self {
            Arch::X86_64 => "BOOTX64.EFI",
            Arch::Aarch64 => "BOOTAA64.EFI",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::ALL
            .into_iter()
            .find(|arch| arch.name() == s)
            .ok_or_else(|| format!("unknown arch `{s}` (expected x86_64 or aarch64)"))
    }
}
