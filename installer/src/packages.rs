//! `[packages]`: which recipes' stages go into the root filesystem.
//!
//! ```text
//! [packages] names ──► cookbook::order::package_closure ──► names + run-time dependencies
//!                      (cookbook/recipes/<name>/recipe.toml)        │
//!   --cookbook-build DIR ──────────────────────────────────────────►▼
//!                                            DIR/<name>/stage, as `make cook` leaves it
//! ```
//!
//! The recipes are read with the cookbook's own parser, so a recipe the cookbook would
//! refuse is refused here too, before anything is built. `installer --list-packages`
//! prints [`resolve`]'s list for the Makefile, which cooks them before the image.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::error::{Error, Result};

/// The config's packages and their run-time dependencies (`[package] dependencies`,
/// transitively), each once: the config's in name order, then dependencies as met.
///
/// Errors: [`Error::ConfigValue`] naming the config when a package or a dependency has no
/// recipe in `recipes`, or a recipe does not parse.
pub fn resolve(config: &Config, config_path: &Path, recipes: &Path) -> Result<Vec<String>> {
    let names: Vec<String> = config.packages.keys().cloned().collect();
    let recipes = cookbook::order::package_closure(&names, |name| cookbook::Recipe::load(recipes, name))
        .map_err(|e| Error::ConfigValue { path: config_path.to_owned(), reason: format!("[packages] {e}") })?;
    Ok(recipes.into_iter().map(|r| r.name).collect())
}

/// Each package's stage directory, `<cookbook_build>/<name>/stage`.
///
/// Errors: [`Error::NotCooked`] for the first one that is not there.
pub fn stages(names: &[String], cookbook_build: &Path) -> Result<Vec<(String, PathBuf)>> {
    names
        .iter()
        .map(|name| {
            let stage = cookbook_build.join(name).join("stage");
            if stage.is_dir() {
                Ok((format!("package {name}"), stage))
            } else {
                Err(Error::NotCooked { name: name.clone(), stage })
            }
        })
        .collect()
}
