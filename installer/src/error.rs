//! The installer's one error type: every failure names the file or setting it came from,
//! so `installer: error: …` is enough to fix the problem without a backtrace.

use std::io;
use std::path::PathBuf;

/// Everything that can stop an image from being made. `main` prints it and exits 1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file could not be read at all (missing, unreadable, not UTF-8).
    #[error("{}: {source}", path.display())]
    ConfigRead { path: PathBuf, source: io::Error },

    /// The config file is not valid TOML or does not match the schema (unknown key, wrong
    /// type, missing `[general]`). `source` carries line and column.
    #[error("{}: {source}", path.display())]
    ConfigParse { path: PathBuf, source: toml::de::Error },

    /// The config parsed but a value is out of range (e.g. a zero-sized ESP).
    #[error("{}: {reason}", path.display())]
    ConfigValue { path: PathBuf, reason: String },

    /// A kernel environment entry is malformed. `origin` says where it came from: the
    /// config file's `[env]` table or an `--env` argument.
    #[error("{origin}: {reason}")]
    Env { origin: String, reason: String },

    /// The loader, kernel or initfs input could not be read.
    #[error("cannot read {what} {}: {source}", path.display())]
    Input { what: &'static str, path: PathBuf, source: io::Error },

    /// The files do not fit in the ESP.
    #[error(
        "ESP of {esp_mib} MiB is too small for {needed_bytes} bytes of files \
         (FAT has {free_bytes} bytes free); raise [general] efi_partition_size"
    )]
    EspTooSmall { esp_mib: u64, needed_bytes: u64, free_bytes: u64 },

    /// Creating, writing or renaming the output image failed.
    #[error("{}: {source}", path.display())]
    Output { path: PathBuf, source: io::Error },

    /// The GPT crate refused the layout (should not happen for a validated config).
    #[error("{}: writing the GPT: {source}", path.display())]
    Gpt { path: PathBuf, source: gpt::GptError },

    /// Formatting or filling the RedoxFS root partition failed.
    #[error("{}: the root filesystem ({step}): {reason}", path.display())]
    RootFs { path: PathBuf, step: String, reason: String },

    /// A `[packages]` package has no stage where the cookbook leaves it.
    #[error("package {name} is not cooked: {} is missing (make cook recipe={name})", stage.display())]
    NotCooked { name: String, stage: PathBuf },

    /// Formatting or filling the FAT ESP failed.
    #[error("{}: writing the ESP ({step}): {source}", path.display())]
    Fat { path: PathBuf, step: String, source: io::Error },
}

/// Short for `Result<T, installer::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
