//! `installer`: makes a bootable Tessera disk image on the host, without FUSE, root
//! privileges or loop devices: every byte is written into an ordinary (sparse) file.
//!
//! ```text
//! config TOML ──► Config ──► Layout (partition extents)
//!      [env] ──┐                  │
//!   --env K=V ─┴► KernelEnv ──┐   ▼
//! loader, kernel, initfs ─────┴► image::write_image ──► <output>.tmp ──rename──► <output>
//!                                 ├─ protective MBR + primary/backup GPT
//!                                 ├─ partition 1 "ESP": FAT with EFI/BOOT/BOOT{X64,AA64}.EFI,
//!                                 │                     /kernel, /initfs, /env
//!                                 └─ partition 2 "TESSERA_ROOT" (if filesystem_size > 0):
//!                                    RedoxFS with --root-dir's tree, the [packages]' stages
//!                                    (packages.rs), then [[files]] (rootfs.rs), or with
//!                                    --keep-root the old image's (keep.rs)
//! ```
//!
//! `main.rs` is only the command line; everything else is here so tests can drive it.

#![deny(unsafe_code)]

pub mod arch;
pub mod config;
pub mod env;
pub mod error;
pub mod esp;
pub mod image;
pub mod keep;
pub mod layout;
pub mod packages;
pub mod rootfs;
pub mod slice;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use arch::Arch;
pub use config::Config;
pub use env::KernelEnv;
pub use error::{Error, Result};

use esp::{EspFile, Source};
use layout::Layout;

/// One run of the installer: what the command line says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Install {
    /// `--config`: the config TOML.
    pub config: PathBuf,
    /// `--arch`: picks the ESP boot file name.
    pub arch: Arch,
    /// `--loader`: the UEFI loader (`.efi`).
    pub loader: PathBuf,
    /// `--kernel`: the kernel ELF.
    pub kernel: PathBuf,
    /// `--initfs`: the initfs archive.
    pub initfs: PathBuf,
    /// `--env KEY=VALUE`, in command-line order; they override the config's `[env]`.
    pub env_overrides: Vec<String>,
    /// `--root-dir`: a directory copied into the root filesystem before `[[files]]`.
    pub root_dir: Option<PathBuf>,
    /// `--recipes`: the cookbook's recipes, for `[packages]` (`cookbook/recipes`).
    pub recipes: PathBuf,
    /// `--cookbook-build`: where `make cook` left the stages (`build/<arch>/cookbook`);
    /// needed when the config lists packages.
    pub cookbook_build: Option<PathBuf>,
    /// `--output`: the image to make.
    pub output: PathBuf,
    /// `--keep-root`: keep the root filesystem of the image `output` names, if it has
    /// one in the same place (`keep.rs`); the config's `[[files]]`, `--root-dir` and
    /// `[packages]` then do not reach it.
    pub keep_root: bool,
}

/// Makes the image described by `install`.
///
/// The image is written to `<output>.tmp` and renamed over `<output>` only once complete,
/// so a failed run never leaves a half-written image (the `.tmp` is removed on failure).
/// The output's parent directory is created if missing.
pub fn install(install: &Install) -> Result<()> {
    let config = Config::load(&install.config)?;
    let mut env = KernelEnv::from_table(&config.env, &install.config.display().to_string())?;
    for arg in &install.env_overrides {
        env.apply_override(arg)?;
    }
    let layout = Layout::new(&config.general).ok_or_else(|| Error::ConfigValue {
        path: install.config.clone(),
        reason: "[general] partition sizes add up to more than a disk can hold".into(),
    })?;

    // Packages are checked before any input is read or the output touched: a missing
    // recipe or stage costs nothing.
    let mut trees_owned: Vec<(String, PathBuf)> = Vec::new();
    if let Some(dir) = &install.root_dir {
        trees_owned.push(("--root-dir".into(), dir.clone()));
    }
    if !config.packages.is_empty() {
        let names = packages::resolve(&config, &install.config, &install.recipes)?;
        let build = install.cookbook_build.as_deref().ok_or_else(|| Error::ConfigValue {
            path: install.config.clone(),
            reason: "[packages] needs --cookbook-build DIR (where `make cook` leaves the stages)".into(),
        })?;
        trees_owned.extend(packages::stages(&names, build)?);
    }

    // Open every input before touching the output, so a typo in a path costs nothing.
    let mut files = vec![
        EspFile {
            dest: format!("EFI/BOOT/{}", install.arch.boot_file_name()),
            source: Source::open("loader", &install.loader)?,
        },
        EspFile { dest: "kernel".into(), source: Source::open("kernel", &install.kernel)? },
        EspFile { dest: "initfs".into(), source: Source::open("initfs", &install.initfs)? },
        EspFile { dest: "env".into(), source: Source::Bytes(env.render().into_bytes()) },
    ];

    let output = &install.output;
    let out_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Output { path, source }
    };
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(out_err(parent))?;
    }
    let tmp = tmp_path(output);
    if install.root_dir.is_some() && layout.root.is_none() {
        return Err(Error::ConfigValue {
            path: install.config.clone(),
            reason: "--root-dir needs a root filesystem: set [general] filesystem_size".into(),
        });
    }
    let trees: Vec<rootfs::Tree<'_>> = trees_owned.iter().map(|(origin, dir)| rootfs::Tree { dir, origin }).collect();
    let root = image::RootFiles { trees: &trees, files: &config.files };
    let mut kept = None;
    if install.keep_root && output.exists() {
        match keep::old_root(output, &layout) {
            Ok(old) => kept = Some(old),
            Err(why) => eprintln!("installer: {}: a new root filesystem: {why}", output.display()),
        }
    }
    let written = image::write_image(&tmp, &layout, config.general.efi_partition_mib, &mut files, &root, kept.as_mut())
        .and_then(|()| std::fs::rename(&tmp, output).map_err(out_err(output)));
    if written.is_err() {
        // Best effort: the error being returned matters more than a leftover .tmp.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// `<output>.tmp`, next to the output so the final rename stays on one filesystem.
fn tmp_path(output: &Path) -> PathBuf {
    let mut name = OsString::from(output.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}
