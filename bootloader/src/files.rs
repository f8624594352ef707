//! Reading the loader's files from the ESP it was started from.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use uefi::CString16;
use uefi::boot;
use uefi::fs::{FileSystem, Path};

/// The file system of the device the loader image came from.
pub struct Esp(FileSystem);

impl Esp {
    /// Opens the ESP the loader was loaded from.
    pub fn open() -> Result<Self, String> {
        boot::get_image_file_system(boot::image_handle())
            .map(|proto| Self(FileSystem::new(proto)))
            .map_err(|e| format!("cannot open the boot partition's file system: {e:?}"))
    }

    /// Reads `\name` whole. A missing optional file reads as empty.
    pub fn read(&mut self, name: &str, required: bool) -> Result<Vec<u8>, String> {
        let path = CString16::try_from(format!("\\{name}").as_str()).map_err(|_| format!("bad file name {name}"))?;
        match self.0.read(Path::new(&path)) {
            Ok(bytes) => Ok(bytes),
            Err(_) if !required => Ok(Vec::new()),
            Err(e) => Err(format!("cannot read \\{name} from the boot partition: {e}")),
        }
    }
}
