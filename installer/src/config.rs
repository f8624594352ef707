//! The config TOML (`installer/config/<name>.toml`): its schema and loading.
//!
//! ```toml
//! [general]
//! efi_partition_size = 16   # MiB, the FAT ESP (default 16)
//! filesystem_size = 0       # MiB, the root filesystem partition (default 0 = none)
//! [env]                     # optional: the kernel environment written to /env on the ESP
//! TESSERA_TEST = "boot"
//! ```
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored
//! setting. Later issues extend this schema (`[packages]`, `[[files]]`, `[users]`, see
//! DESIGN.md §7); they add fields here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// ESP size used when `[general] efi_partition_size` is left out.
pub const DEFAULT_EFI_PARTITION_MIB: u64 = 16;

/// Largest ESP: FAT counts sectors in 32 bits, so a volume of 512-byte sectors stays
/// below 2 TiB.
pub const MAX_EFI_PARTITION_MIB: u64 = (u32::MAX as u64 * 512) / (1024 * 1024);

/// A whole config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[general]`: partition sizes. Required, even if every key in it is defaulted, so
    /// that an empty or unrelated TOML file is rejected.
    pub general: General,
    /// `[env]`: the kernel environment, `KEY = "value"`. Values must be strings.
    /// Held sorted by key (a `BTreeMap`), which is the order `/env` lists them in.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// The `[general]` table.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct General {
    /// Size of the FAT EFI System Partition in MiB (`efi_partition_size`).
    #[serde(rename = "efi_partition_size", default = "default_efi_partition_mib")]
    pub efi_partition_mib: u64,
    /// Size of the root filesystem partition in MiB (`filesystem_size`); 0 means the
    /// image has no root partition yet.
    #[serde(rename = "filesystem_size", default)]
    pub filesystem_mib: u64,
}

fn default_efi_partition_mib() -> u64 {
    DEFAULT_EFI_PARTITION_MIB
}

impl Config {
    /// Reads and parses the config file at `path`.
    ///
    /// Errors: [`Error::ConfigRead`] if it cannot be read, otherwise as [`Config::parse`].
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).map_err(|source| Error::ConfigRead { path: path.to_owned(), source })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `path` is only used to name the file in errors.
    ///
    /// Errors: [`Error::ConfigParse`] for bad TOML, unknown keys, wrong types or a missing
    /// `[general]`; [`Error::ConfigValue`] for out-of-range sizes.
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config =
            toml::from_str(text).map_err(|source| Error::ConfigParse { path: path.to_owned(), source })?;
        config.general.validate(path)?;
        Ok(config)
    }
}

impl General {
    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Error::ConfigValue { path: path.to_owned(), reason };
        if self.efi_partition_mib == 0 {
            return Err(bad("[general] efi_partition_size must be at least 1 (MiB)".into()));
        }
        if self.efi_partition_mib > MAX_EFI_PARTITION_MIB {
            return Err(bad(format!(
                "[general] efi_partition_size = {} MiB is larger than FAT allows ({MAX_EFI_PARTITION_MIB} MiB)",
                self.efi_partition_mib
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("config/x.toml"))
    }

    #[test]
    fn defaults_fill_an_empty_general() {
        let config = parse("[general]\n").unwrap();
        assert_eq!(config.general.efi_partition_mib, DEFAULT_EFI_PARTITION_MIB);
        assert_eq!(config.general.filesystem_mib, 0);
        assert!(config.env.is_empty());
    }

    #[test]
    fn reads_sizes_and_env() {
        let config = parse(
            "[general]\nefi_partition_size = 32\nfilesystem_size = 64\n\
             [env]\nB = \"2\"\nA = \"1\"\n",
        )
        .unwrap();
        assert_eq!(config.general.efi_partition_mib, 32);
        assert_eq!(config.general.filesystem_mib, 64);
        let env: Vec<_> = config.env.iter().collect();
        assert_eq!(env, [(&"A".into(), &"1".into()), (&"B".into(), &"2".into())]);
    }

    #[test]
    fn unknown_field_names_file_and_field() {
        let err = parse("[general]\nfilesytem_size = 1\n").unwrap_err();
        assert!(matches!(err, Error::ConfigParse { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.starts_with("config/x.toml: "), "{msg}");
        assert!(msg.contains("filesytem_size"), "{msg}");
    }

    #[test]
    fn unknown_table_is_rejected() {
        let err = parse("[general]\n[packages]\nfoo = {}\n").unwrap_err();
        assert!(err.to_string().contains("packages"), "{err}");
    }

    #[test]
    fn missing_general_is_rejected() {
        let err = parse("[env]\nA = \"1\"\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("config/x.toml: "), "{msg}");
        assert!(msg.contains("general"), "{msg}");
    }

    #[test]
    fn wrong_types_are_rejected() {
        assert!(parse("[general]\nefi_partition_size = \"16\"\n").is_err());
        assert!(parse("[general]\nfilesystem_size = -1\n").is_err());
        assert!(parse("[general]\n[env]\nA = 1\n").is_err());
    }

    #[test]
    fn zero_or_huge_esp_is_rejected() {
        let err = parse("[general]\nefi_partition_size = 0\n").unwrap_err();
        assert!(matches!(err, Error::ConfigValue { .. }), "{err:?}");
        let huge = format!("[general]\nefi_partition_size = {}\n", MAX_EFI_PARTITION_MIB + 1);
        assert!(matches!(parse(&huge), Err(Error::ConfigValue { .. })));
    }
}
