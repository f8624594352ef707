//! The config TOML (`installer/config/<name>.toml`): its schema and loading.
//!
//! ```toml
//! [general]
//! efi_partition_size = 16   # MiB, the FAT ESP (default 16)
//! filesystem_size = 0       # MiB, the root filesystem partition (default 0 = none)
//! [env]                     # optional: the kernel environment written to /env on the ESP
//! TESSERA_TEST = "boot"
//!
//! [[files]]                 # optional, repeated: what the root filesystem holds (Redox's keys)
//! path = "/etc/hostname"    # absolute; missing parent directories are made (mode 0755)
//! data = "tessera\n"        # a file's bytes, or a symlink's target (default "")
//! directory = false         # a directory instead of a file (default false)
//! symlink = false           # a symbolic link to `data` (default false)
//! mode = 0o644              # permission bits (default 0o644, directories 0o755)
//! uid = 0                   # owner (default 0)
//! gid = 0                   # group (default 0)
//!
//! [packages]                # optional: recipes whose stage goes into the root filesystem
//! bzip2 = {}                # (with their run-time dependencies; docs/cookbook.md)
//! ```
//!
//! Every table denies unknown keys, so a typo is an error rather than a silently ignored
//! setting. `[[files]]` and `[packages]` need `filesystem_size` > 0 (there is nowhere
//! else to put them). Whether each package has a recipe is checked by
//! [`crate::packages::resolve`], which needs the recipes directory. Later issues extend
//! this schema (`[users]`, see DESIGN.md §7); they add fields here.

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
    /// `[[files]]`: files, directories and symlinks of the root filesystem, in order.
    #[serde(default)]
    pub files: Vec<FileEntry>,
    /// `[packages]`: `name = {}` per recipe to install, sorted by name.
    #[serde(default)]
    pub packages: BTreeMap<String, Package>,
}

/// One `[packages]` entry. Redox's `name = {}`; its other forms (`"ignore"`, a `path` to
/// a prebuilt package) are not taken: every package is cooked from its recipe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {}

/// One `[[files]]` entry (Redox's installer keys, minus `postinstall` and
/// `recursive_chown`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Absolute path in the root filesystem.
    pub path: String,
    /// A file's contents, or a symlink's target.
    #[serde(default)]
    pub data: String,
    /// Make a directory.
    #[serde(default)]
    pub directory: bool,
    /// Make a symbolic link to `data`.
    #[serde(default)]
    pub symlink: bool,
    /// Permission bits (`0o7777` at most); default 0o644 for files and links, 0o755 for
    /// directories.
    #[serde(default)]
    pub mode: Option<u16>,
    /// Owner.
    #[serde(default)]
    pub uid: u32,
    /// Group.
    #[serde(default)]
    pub gid: u32,
}

impl FileEntry {
    /// The permission bits: `mode`, or the default for the kind.
    pub fn permissions(&self) -> u16 {
        self.mode.unwrap_or(if self.directory { 0o755 } else { 0o644 })
    }

    /// The path's components (no empty ones, no `.` or `..`), or why not.
    pub fn components(&self) -> std::result::Result<Vec<&str>, String> {
        let rest = self.path.strip_prefix('/').ok_or_else(|| format!("{}: not an absolute path", self.path))?;
        let parts: Vec<&str> = rest.split('/').filter(|part| !part.is_empty()).collect();
        if parts.is_empty() {
            return Err(format!("{}: names the root itself", self.path));
        }
        if parts.iter().any(|part| *part == "." || *part == "..") {
            return Err(format!("{}: `.` and `..` are not allowed", self.path));
        }
        Ok(parts)
    }
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
        config.validate_files(path)?;
        Ok(config)
    }
}

impl Config {
    fn validate_files(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| Error::ConfigValue { path: path.to_owned(), reason };
        if !self.files.is_empty() && self.general.filesystem_mib == 0 {
            return Err(bad("[[files]] needs a root filesystem: set [general] filesystem_size".into()));
        }
        if !self.packages.is_empty() && self.general.filesystem_mib == 0 {
            return Err(bad("[packages] needs a root filesystem: set [general] filesystem_size".into()));
        }
        for file in &self.files {
            file.components().map_err(|reason| bad(format!("[[files]] {reason}")))?;
            if file.directory && file.symlink {
                return Err(bad(format!("[[files]] {}: both a directory and a symlink", file.path)));
            }
            if file.permissions() > 0o7777 {
                return Err(bad(format!(
                    "[[files]] {}: mode {:#o} has more than permission bits",
                    file.path,
                    file.permissions()
                )));
            }
            if file.directory && !file.data.is_empty() {
                return Err(bad(format!("[[files]] {}: a directory has no data", file.path)));
            }
        }
        Ok(())
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
    fn files_are_read_with_defaults_and_checked() {
        let config = parse(
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/etc/motd\"\ndata = \"hi\"\n\
             [[files]]\npath = \"/home/user\"\ndirectory = true\nuid = 1000\n",
        )
        .unwrap();
        assert_eq!(config.files.len(), 2);
        assert_eq!((config.files[0].permissions(), config.files[1].permissions()), (0o644, 0o755));
        assert_eq!(config.files[1].components().unwrap(), ["home", "user"]);
        for bad in [
            "[general]\n[[files]]\npath = \"/a\"\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"a\"\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/a/../b\"\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/\"\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/a\"\ndirectory = true\nsymlink = true\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/a\"\nmode = 0o17777\n",
            "[general]\nfilesystem_size = 8\n[[files]]\npath = \"/a\"\ndirectory = true\ndata = \"x\"\n",
        ] {
            assert!(matches!(parse(bad), Err(Error::ConfigValue { .. })), "{bad}");
        }
        assert!(parse("[general]\nfilesystem_size = 8\n[[files]]\npath = \"/a\"\nowner = 1\n").is_err());
    }

    #[test]
    fn unknown_table_is_rejected() {
        let err = parse("[general]\n[users]\nfoo = {}\n").unwrap_err();
        assert!(err.to_string().contains("users"), "{err}");
    }

    #[test]
    fn packages_are_read_and_need_a_root_filesystem() {
        let config = parse("[general]\nfilesystem_size = 8\n[packages]\nlua54 = {}\nbzip2 = {}\n").unwrap();
        assert_eq!(config.packages.keys().collect::<Vec<_>>(), ["bzip2", "lua54"]);
        let err = parse("[general]\n[packages]\nbzip2 = {}\n").unwrap_err();
        assert!(matches!(err, Error::ConfigValue { .. }), "{err:?}");
        assert!(err.to_string().contains("[packages] needs a root filesystem"), "{err}");
        // Redox's other forms are not taken.
        assert!(parse("[general]\nfilesystem_size = 8\n[packages]\nbzip2 = \"ignore\"\n").is_err());
        assert!(parse("[general]\nfilesystem_size = 8\n[packages]\nbzip2 = { path = \"x\" }\n").is_err());
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
