//! The kernel environment: the `/env` file on the ESP, one `KEY=value` line per entry.
//!
//! It is built from the config's `[env]` table (sorted by key) and then the `--env
//! KEY=VALUE` arguments in command-line order. Setting a key that is already present
//! removes the old line and appends the new one, so each key appears once and an
//! override always wins over the config, wherever it sat.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// An ordered list of unique `KEY=value` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelEnv {
    entries: Vec<(String, String)>,
}

impl KernelEnv {
    /// The entries of a config's `[env]` table, in key order. `origin` names the config
    /// file in errors.
    ///
    /// Errors: [`Error::Env`] if a key or value is malformed (see [`KernelEnv::set`]).
    pub fn from_table(table: &BTreeMap<String, String>, origin: &str) -> Result<KernelEnv> {
        let mut env = KernelEnv::default();
        for (key, value) in table {
            env.set(key, value).map_err(|reason| Error::Env { origin: format!("{origin}: [env] {key}"), reason })?;
        }
        Ok(env)
    }

    /// Applies one `--env KEY=VALUE` argument.
    ///
    /// Errors: [`Error::Env`] naming the argument if it has no `=` or is malformed.
    pub fn apply_override(&mut self, arg: &str) -> Result<()> {
        let err = |reason: String| Error::Env { origin: format!("--env {arg}"), reason };
        let (key, value) = arg.split_once('=').ok_or_else(|| err("expected KEY=VALUE".into()))?;
        self.set(key, value).map_err(err)
    }

    /// Sets `key` to `value`, moving it to the end if it was already present.
    ///
    /// Keys are `[A-Za-z_][A-Za-z0-9_]*` so the kernel's parser can split on the first
    /// `=`; values may hold anything but line breaks and NUL, which would split or end
    /// the line.
    pub fn set(&mut self, key: &str, value: &str) -> std::result::Result<(), String> {
        check_key(key)?;
        if let Some(bad) = value.chars().find(|c| matches!(c, '\n' | '\r' | '\0')) {
            return Err(format!("value must not contain {bad:?}"));
        }
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The `/env` file: `KEY=value\n` per entry, empty if there are none.
    pub fn render(&self) -> String {
        self.entries.iter().map(|(key, value)| format!("{key}={value}\n")).collect()
    }
}

fn check_key(key: &str) -> std::result::Result<(), String> {
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid { Ok(()) } else { Err(format!("key `{key}` must be letters, digits and `_`, not starting with a digit")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn config_entries_are_sorted_by_key() {
        let env = KernelEnv::from_table(&table(&[("B", "2"), ("A", "1")]), "c.toml").unwrap();
        assert_eq!(env.render(), "A=1\nB=2\n");
    }

    #[test]
    fn override_replaces_config_key_and_moves_last() {
        let mut env = KernelEnv::from_table(&table(&[("A", "1"), ("B", "2"), ("C", "3")]), "c").unwrap();
        env.apply_override("A=one").unwrap();
        env.apply_override("D=4").unwrap();
        env.apply_override("D=four=4").unwrap();
        env.apply_override("E=").unwrap();
        assert_eq!(env.render(), "B=2\nC=3\nA=one\nD=four=4\nE=\n");
        assert_eq!(env.get("A"), Some("one"));
        assert_eq!(env.get("Z"), None);
    }

    #[test]
    fn empty_env_renders_empty() {
        assert_eq!(KernelEnv::default().render(), "");
    }

    #[test]
    fn malformed_entries_are_rejected() {
        let mut env = KernelEnv::default();
        for arg in ["NOEQUALS", "=x", "1A=x", "A B=x", "A-B=x", "A=x\ny"] {
            let err = env.apply_override(arg).unwrap_err();
            assert!(err.to_string().starts_with("--env "), "{err}");
        }
        assert_eq!(env.render(), "");
        let err = KernelEnv::from_table(&table(&[("bad key", "1")]), "c.toml").unwrap_err();
        assert!(err.to_string().starts_with("c.toml: [env] bad key: "), "{err}");
    }
}
