//! The EFI System Partition: formats it as FAT and copies the boot files in.
//!
//! `fatfs` picks FAT12/16/32 from the partition size (16 MiB gives FAT16); OVMF's and
//! ArmVirtQemu's FAT driver reads all three. Timestamps are fatfs's fixed 1980-01-01
//! (the `chrono` feature is off) and the volume ID is a constant, so the same inputs give
//! the same bytes.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use fatfs::{FileSystem, FormatVolumeOptions, FsOptions};

use crate::error::{Error, Result};

/// FAT volume label, space-padded to the 11 bytes FAT stores.
pub const VOLUME_LABEL: [u8; 11] = *b"TESSERA    ";

/// FAT volume serial number (any fixed value; kept constant for reproducible images).
pub const VOLUME_ID: u32 = 0x7E55_E4A0;

/// Where a file's bytes come from.
#[derive(Debug)]
pub enum Source {
    /// An input file given on the command line, already opened so a missing input fails
    /// before any image is written.
    File { path: PathBuf, file: File, len_bytes: u64 },
    /// Bytes made by the installer itself (the `/env` text).
    Bytes(Vec<u8>),
}

impl Source {
    /// Opens `path` as the input named `what` ("loader", "kernel", …).
    ///
    /// Errors: [`Error::Input`] if it cannot be opened or is not a regular file.
    pub fn open(what: &'static str, path: &Path) -> Result<Source> {
        let input_err = |source| Error::Input { what, path: path.to_owned(), source };
        let file = File::open(path).map_err(input_err)?;
        let meta = file.metadata().map_err(input_err)?;
        if !meta.is_file() {
            return Err(input_err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")));
        }
        Ok(Source::File { path: path.to_owned(), file, len_bytes: meta.len() })
    }

    fn len_bytes(&self) -> u64 {
        match self {
            Source::File { len_bytes, .. } => *len_bytes,
            Source::Bytes(bytes) => bytes.len() as u64,
        }
    }
}

/// One file to place on the ESP.
#[derive(Debug)]
pub struct EspFile {
    /// Path inside the ESP, `/`-separated, no leading `/` (e.g. `EFI/BOOT/BOOTX64.EFI`).
    pub dest: String,
    /// Its contents.
    pub source: Source,
}

/// Formats `volume` (exactly the ESP's bytes) as FAT and writes `files` into it.
/// `esp_mib` and `image` only go into error messages.
///
/// Errors: [`Error::EspTooSmall`] if the files do not fit, [`Error::Input`] if an input
/// cannot be read, [`Error::Fat`] for any other failure.
pub fn write_esp<D>(mut volume: D, files: &mut [EspFile], esp_mib: u64, image: &Path) -> Result<()>
where
    D: Read + Write + Seek,
{
    let fat_err = |step: String| move |source| Error::Fat { path: image.to_owned(), step: step.clone(), source };
    let options = FormatVolumeOptions::new().volume_label(VOLUME_LABEL).volume_id(VOLUME_ID);
    fatfs::format_volume(&mut volume, options).map_err(fat_err("format".into()))?;
    let fs = FileSystem::new(&mut volume, FsOptions::new()).map_err(fat_err("mount".into()))?;

    check_fits(&fs, files, esp_mib, fat_err("stats".into()))?;

    let root = fs.root_dir();
    for entry in files.iter_mut() {
        if let Some((dir, _)) = entry.dest.rsplit_once('/') {
            // create_dir opens the directory if it already exists; `a/b` creates only `b`,
            // so walk the prefixes.
            let mut prefix = String::new();
            for part in dir.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                root.create_dir(&prefix).map_err(fat_err(format!("mkdir {prefix}")))?;
            }
        }
        let step = format!("write {}", entry.dest);
        let mut out = root.create_file(&entry.dest).map_err(fat_err(step.clone()))?;
        out.truncate().map_err(fat_err(step.clone()))?;
        copy(&mut entry.source, &mut out, fat_err(step.clone()))?;
        out.flush().map_err(fat_err(step))?;
    }
    drop(root);
    fs.unmount().map_err(fat_err("unmount".into()))?;
    volume.flush().map_err(fat_err("flush".into()))
}

/// Checks the files fit before writing any, so the error says by how much.
fn check_fits<D: Read + Write + Seek>(
    fs: &FileSystem<D>,
    files: &[EspFile],
    esp_mib: u64,
    stats_err: impl FnOnce(io::Error) -> Error,
) -> Result<()> {
    let stats = fs.stats().map_err(stats_err)?;
    let cluster_bytes = u64::from(stats.cluster_size());
    let clusters = |bytes: u64| bytes.div_ceil(cluster_bytes);
    let mut dirs: Vec<&str> = files
        .iter()
        .filter_map(|f| f.dest.rsplit_once('/').map(|(dir, _)| dir))
        .flat_map(|dir| dir.match_indices('/').map(|(i, _)| &dir[..i]).chain([dir]))
        .collect();
    dirs.sort_unstable();
    dirs.dedup();
    // Each file takes whole clusters; each directory one (a few entries fit in one).
    let needed_clusters = files.iter().map(|f| clusters(f.source.len_bytes())).sum::<u64>() + dirs.len() as u64;
    let free_clusters = u64::from(stats.free_clusters());
    if needed_clusters > free_clusters {
        return Err(Error::EspTooSmall {
            esp_mib,
            needed_bytes: needed_clusters * cluster_bytes,
            free_bytes: free_clusters * cluster_bytes,
        });
    }
    Ok(())
}

/// Copies a source into a FAT file, telling read errors (the input's fault) from write
/// errors (the image's).
fn copy<W: Write>(source: &mut Source, out: &mut W, write_err: impl Fn(io::Error) -> Error) -> Result<()> {
    match source {
        Source::Bytes(bytes) => out.write_all(bytes).map_err(write_err),
        Source::File { path, file, .. } => {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => return Ok(()),
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(source) => {
                        return Err(Error::Input { what: "input", path: path.clone(), source });
                    }
                };
                out.write_all(&buf[..n]).map_err(&write_err)?;
            }
        }
    }
}
