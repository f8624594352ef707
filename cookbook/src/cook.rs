//! Cooking: for each recipe in cook order, its source unpacked into
//! `source/`, its build dependencies' stages merged into `sysroot/`, the
//! template run in `build/`, the result installed into `stage/`, all under
//! `build/<arch>/cookbook/<name>/`.
//!
//! Every source is fetched and verified before anything is built, so a fetch
//! failure is reported as one. A recipe whose stamp (its recipe.toml and
//! patches, its dependencies' stamps, the C library) is unchanged is not
//! cooked again.
//!
//! Scripts run under `bash -e` in `build/` with the variables of
//! [`Cook::env`] exported; `COOKBOOK_CONFIGURE_FLAGS` and
//! `COOKBOOK_CMAKE_FLAGS` are bash arrays, and the functions
//! `cookbook_configure` and `cookbook_cmake` are defined (as in Redox).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, ErrorKind, KindResult};
use crate::order::{build_closure, cook_order};
use crate::recipe::{Recipe, Template};
use crate::source::{Fetched, Fetcher, copy_tree, remove_all, sha256_bytes};

/// Where things are and how to cook.
#[derive(Debug, Clone)]
pub struct Config {
    /// `x86_64` or `aarch64`.
    pub arch: String,
    /// `cookbook/recipes`.
    pub recipes: PathBuf,
    /// `build`: recipes cook in `<build>/<arch>/cookbook/<name>/`.
    pub build: PathBuf,
    /// relibc-shim's sysroot (`build/<arch>/sysroot`): the compiler wrappers.
    pub toolchain: PathBuf,
    pub fetcher: Fetcher,
    /// `make -j` jobs.
    pub jobs: usize,
    /// Cook even when the stamp says up to date.
    pub force: bool,
}

/// What happened to one recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Cooked,
    UpToDate,
    Fetched,
}

/// The directories of one recipe.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub work: PathBuf,
    pub source: PathBuf,
    pub build: PathBuf,
    pub stage: PathBuf,
    pub sysroot: PathBuf,
}

impl Config {
    /// The GNU-style target triple configure scripts get as `--host`.
    pub fn target(&self) -> String {
        format!("{}-unknown-tessera", self.arch)
    }

    pub fn dirs(&self, name: &str) -> Dirs {
        let work = self.build.join(&self.arch).join("cookbook").join(name);
        Dirs {
            source: work.join("source"),
            build: work.join("build"),
            stage: work.join("stage"),
            sysroot: work.join("sysroot"),
            work,
        }
    }

    /// Loads `names` and their dependencies in cook order.
    pub fn order(&self, names: &[String]) -> Result<Vec<Recipe>, Error> {
        cook_order(names, |n| Recipe::load(&self.recipes, n))
    }

    /// Fetches and verifies every source `names` need.
    pub fn fetch(&self, names: &[String]) -> Result<Vec<(String, Outcome)>, Error> {
        let order = self.order(names)?;
        self.fetch_all(&order)?;
        Ok(order.into_iter().map(|r| (r.name, Outcome::Fetched)).collect())
    }

    /// Cooks `names` and their dependencies.
    pub fn cook(&self, names: &[String]) -> Result<Vec<(String, Outcome)>, Error> {
        let order = self.order(names)?;
        let fetched = self.fetch_all(&order)?;
        let mut stamps: std::collections::HashMap<String, String> = Default::default();
        let mut outcomes = Vec::new();
        for (recipe, fetched) in order.iter().zip(&fetched) {
            let deps = build_closure(&recipe.name, &order);
            let stamp = self.stamp(recipe, &deps, &stamps).map_err(|k| k.in_recipe(&recipe.name))?;
            let dirs = self.dirs(&recipe.name);
            let stamp_file = dirs.work.join("stamp");
            let old = std::fs::read_to_string(&stamp_file).unwrap_or_default();
            let outcome = if !self.force && old == stamp && dirs.stage.is_dir() {
                Outcome::UpToDate
            } else {
                eprintln!("cookbook: cooking {} for {}", recipe.name, self.arch);
                let _ = std::fs::remove_file(&stamp_file);
                self.cook_one(recipe, fetched, &deps, &dirs).map_err(|k| k.in_recipe(&recipe.name))?;
                std::fs::write(&stamp_file, &stamp)
                    .map_err(|e| ErrorKind::io(&stamp_file, e).in_recipe(&recipe.name))?;
                Outcome::Cooked
            };
            stamps.insert(recipe.name.clone(), stamp);
            outcomes.push((recipe.name.clone(), outcome));
        }
        Ok(outcomes)
    }

    /// Every source of `order`, fetched and verified. Offline, every missing
    /// one is named (not only the first).
    fn fetch_all(&self, order: &[Recipe]) -> Result<Vec<Fetched>, Error> {
        let mut fetched = Vec::new();
        let mut missing = Vec::new();
        for r in order {
            match self.fetcher.fetch(r) {
                Ok(f) => fetched.push(f),
                Err(kind @ ErrorKind::Offline { .. }) => missing.push(kind.in_recipe(&r.name)),
                Err(kind) => return Err(kind.in_recipe(&r.name)),
            }
        }
        match missing.len() {
            0 => Ok(fetched),
            1 => Err(missing.remove(0)),
            _ => Err(Error { recipe: String::new(), kind: ErrorKind::OfflineMissing(missing) }),
        }
    }

    /// What a cook depends on, hashed.
    fn stamp(
        &self,
        recipe: &Recipe,
        deps: &[&Recipe],
        stamps: &std::collections::HashMap<String, String>,
    ) -> KindResult<String> {
        let mut text = format!("arch {}\n", self.arch);
        let toml = recipe.dir.join("recipe.toml");
        let bytes = std::fs::read(&toml).map_err(|e| ErrorKind::io(&toml, e))?;
        text += &format!("recipe {}\n", sha256_bytes(&bytes));
        for p in &recipe.source.patches {
            let path = recipe.dir.join(p);
            let bytes = std::fs::read(&path).map_err(|e| ErrorKind::io(&path, e))?;
            text += &format!("patch {p} {}\n", sha256_bytes(&bytes));
        }
        for d in deps {
            text += &format!("dep {} {}\n", d.name, stamps.get(&d.name).map_or("", |s| s.as_str()));
        }
        if let Ok(m) = std::fs::metadata(self.toolchain.join("lib/libc.a")) {
            let mtime = m.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            text += &format!("libc {} {:?}\n", m.len(), mtime);
        }
        Ok(sha256_bytes(text.as_bytes()))
    }

    fn cook_one(&self, recipe: &Recipe, fetched: &Fetched, deps: &[&Recipe], dirs: &Dirs) -> KindResult<()> {
        for d in [&dirs.source, &dirs.build, &dirs.stage, &dirs.sysroot] {
            remove_all(d)?;
        }
        self.fetcher.unpack(recipe, fetched, &dirs.source)?;
        for patch in &recipe.source.patches {
            let path = recipe.dir.join(patch).canonicalize().map_err(|e| ErrorKind::io(recipe.dir.join(patch), e))?;
            let mut cmd = Command::new("patch");
            cmd.args(["-p1", "--forward", "--batch", "-d"]).arg(&dirs.source).arg("-i").arg(&path);
            run(cmd, &format!("patch {patch}"))?;
        }
        wrap_config_subs(&dirs.source)?;
        for d in [&dirs.build, &dirs.stage, &dirs.sysroot] {
            std::fs::create_dir_all(d).map_err(|e| ErrorKind::io(d, e))?;
        }
        for d in deps {
            let stage = self.dirs(&d.name).stage;
            copy_tree(&stage, &dirs.sysroot)?;
        }
        let env = self.env(recipe, dirs);
        if let Some(script) = &recipe.source.script {
            self.run_script(recipe, dirs, &env, "source-script", &dirs.source, script)?;
        }
        match recipe.build.template {
            Template::None => Ok(()),
            Template::Cc => crate::cc::build(recipe, dirs, &env),
            Template::Configure => {
                self.run_script(recipe, dirs, &env, "build-script", &dirs.build, "cookbook_configure")
            }
            Template::Cmake => self.run_script(recipe, dirs, &env, "build-script", &dirs.build, "cookbook_cmake"),
            Template::Custom => {
                let script = recipe.build.script.as_deref().unwrap_or_default();
                self.run_script(recipe, dirs, &env, "build-script", &dirs.build, script)
            }
        }
    }

    /// The variables every script and compiler call of `recipe` sees.
    pub fn env(&self, recipe: &Recipe, dirs: &Dirs) -> Vec<(String, String)> {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
        let target = self.target();
        let tool = |t: &str| format!("{}/bin/{target}-{t}", abs(&self.toolchain));
        let sysroot = abs(&dirs.sysroot);
        let mut cflags = format!("-O2 -I{sysroot}/usr/include");
        for f in &recipe.build.cflags {
            cflags += " ";
            cflags += &shell_quote(f);
        }
        let path = format!("{}/bin:{}", abs(&self.toolchain), std::env::var("PATH").unwrap_or_default());
        let vars = [
            ("ARCH", self.arch.clone()),
            ("TARGET", target.clone()),
            ("GNU_TARGET", target.clone()),
            ("COOKBOOK_RECIPE", abs(&recipe.dir)),
            ("COOKBOOK_NAME", recipe.name.clone()),
            ("COOKBOOK_SOURCE", abs(&dirs.source)),
            ("COOKBOOK_BUILD", abs(&dirs.build)),
            ("COOKBOOK_STAGE", abs(&dirs.stage)),
            ("COOKBOOK_SYSROOT", sysroot.clone()),
            ("COOKBOOK_TOOLCHAIN", abs(&self.toolchain)),
            ("COOKBOOK_CACHE", abs(&self.fetcher.cache)),
            ("COOKBOOK_OFFLINE", if self.fetcher.offline { "1" } else { "0" }.into()),
            ("COOKBOOK_MAKE", "make".into()),
            ("COOKBOOK_MAKE_JOBS", self.jobs.to_string()),
            ("COOKBOOK_CONFIGURE", format!("{}/configure", abs(&dirs.source))),
            ("COOKBOOK_CONFIGURE_FLAGS", self.configure_flags(recipe).join(" ")),
            ("COOKBOOK_CMAKE_FLAGS", recipe.build.cmakeflags.join(" ")),
            ("COOKBOOK_CMAKE_TOOLCHAIN", format!("{}/share/cmake/{target}.cmake", abs(&self.toolchain))),
            ("CC", tool("cc")),
            ("AR", tool("ar")),
            ("RANLIB", tool("ranlib")),
            ("PKG_CONFIG", tool("pkg-config")),
            ("CFLAGS", cflags),
            ("CPPFLAGS", format!("-I{sysroot}/usr/include")),
            ("LDFLAGS", format!("-L{sysroot}/usr/lib")),
            ("PKG_CONFIG_SYSROOT_DIR", sysroot.clone()),
            ("PKG_CONFIG_LIBDIR", format!("{sysroot}/usr/lib/pkgconfig:{sysroot}/usr/share/pkgconfig")),
            ("PATH", path),
        ];
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// Redox's default configure flags, then the recipe's.
    pub fn configure_flags(&self, recipe: &Recipe) -> Vec<String> {
        let mut flags: Vec<String> = vec![
            format!("--host={}", self.target()),
            "--prefix=/usr".into(),
            "--disable-shared".into(),
            "--enable-static".into(),
        ];
        flags.extend(recipe.build.configureflags.iter().cloned());
        flags
    }

    /// Writes `<work>/<name>.sh` (prelude + `body`) and runs it with bash in `cwd`.
    fn run_script(
        &self,
        recipe: &Recipe,
        dirs: &Dirs,
        env: &[(String, String)],
        name: &str,
        cwd: &Path,
        body: &str,
    ) -> KindResult<()> {
        let array = |items: &[String]| items.iter().map(|s| shell_quote(s)).collect::<Vec<_>>().join(" ");
        let prelude = format!(
            "# Written by the cookbook for recipe {name_r}; the variables are in the environment.\n\
             set -e\n\
             COOKBOOK_CONFIGURE_FLAGS=({conf})\n\
             COOKBOOK_CMAKE_FLAGS=({cmake})\n\
             cookbook_configure() {{\n\
             \x20   \"$COOKBOOK_CONFIGURE\" \"${{COOKBOOK_CONFIGURE_FLAGS[@]}}\" \"$@\"\n\
             \x20   \"$COOKBOOK_MAKE\" -j\"$COOKBOOK_MAKE_JOBS\"\n\
             \x20   \"$COOKBOOK_MAKE\" install DESTDIR=\"$COOKBOOK_STAGE\"\n\
             }}\n\
             cookbook_cmake() {{\n\
             \x20   command -v cmake >/dev/null || {{ echo \"cookbook: cmake is not installed\" >&2; return 1; }}\n\
             \x20   cmake \"$COOKBOOK_SOURCE\" -DCMAKE_TOOLCHAIN_FILE=\"$COOKBOOK_CMAKE_TOOLCHAIN\" \\\n\
             \x20       -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DBUILD_SHARED_LIBS=OFF \\\n\
             \x20       \"${{COOKBOOK_CMAKE_FLAGS[@]}}\" \"$@\"\n\
             \x20   \"$COOKBOOK_MAKE\" -j\"$COOKBOOK_MAKE_JOBS\"\n\
             \x20   \"$COOKBOOK_MAKE\" install DESTDIR=\"$COOKBOOK_STAGE\"\n\
             }}\n",
            name_r = recipe.name,
            conf = array(&self.configure_flags(recipe)),
            cmake = array(&recipe.build.cmakeflags),
        );
        let file = dirs.work.join(format!("{name}.sh"));
        std::fs::write(&file, format!("{prelude}\n{body}\n")).map_err(|e| ErrorKind::io(&file, e))?;
        let mut cmd = Command::new("bash");
        cmd.arg(&file).current_dir(cwd).envs(env.iter().map(|(k, v)| (k, v)));
        run(cmd, &format!("{name} ({})", file.display()))
    }
}

/// Runs `cmd`; a non-zero exit is [`ErrorKind::Build`] named `step`.
pub fn run(mut cmd: Command, step: &str) -> KindResult<()> {
    let program = cmd.get_program().to_string_lossy().to_string();
    let status = cmd.status().map_err(|e| ErrorKind::Tool { tool: program, detail: e.to_string() })?;
    if status.success() { Ok(()) } else { Err(ErrorKind::Build { step: step.to_string(), status: status.to_string() }) }
}

/// `s` quoted for bash.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_=/.,:+@%".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `config.sub` that autoconf's configure scripts run to check `--host`
/// does not know `tessera`. Each `config.sub` in the source becomes a wrapper
/// that answers `<cpu>-unknown-tessera` for a `*-tessera` triple and runs the
/// original (`config.sub.orig`) for anything else.
pub fn wrap_config_subs(source: &Path) -> KindResult<()> {
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| ErrorKind::io(&dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() && entry.file_name() == "config.sub" {
                let orig = path.with_extension("sub.orig");
                if orig.exists() {
                    continue;
                }
                std::fs::rename(&path, &orig).map_err(|e| ErrorKind::io(&path, e))?;
                std::fs::write(&path, CONFIG_SUB_WRAPPER).map_err(|e| ErrorKind::io(&path, e))?;
                set_executable(&path)?;
            }
        }
    }
    Ok(())
}

const CONFIG_SUB_WRAPPER: &str = "#!/bin/sh\n\
# Tessera: the cookbook wrapped this config.sub (the original is config.sub.orig).\n\
case $1 in\n\
*-tessera | *-*-tessera) echo \"${1%%-*}-unknown-tessera\"; exit 0 ;;\n\
esac\n\
exec sh \"$0.orig\" \"$@\"\n";

fn set_executable(path: &Path) -> KindResult<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| ErrorKind::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("--host=x86_64-unknown-tessera"), "--host=x86_64-unknown-tessera");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn wrapped_config_sub_accepts_tessera_and_defers_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("build-aux");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.sub"), "#!/bin/sh\necho \"original $1\"\n").unwrap();
        wrap_config_subs(tmp.path()).unwrap();
        wrap_config_subs(tmp.path()).unwrap(); // idempotent
        let sub = |arg: &str| {
            let out = Command::new("sh").arg(dir.join("config.sub")).arg(arg).output().unwrap();
            assert!(out.status.success());
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        assert_eq!(sub("x86_64-unknown-tessera"), "x86_64-unknown-tessera");
        assert_eq!(sub("aarch64-tessera"), "aarch64-unknown-tessera");
        assert_eq!(sub("x86_64-pc-linux-gnu"), "original x86_64-pc-linux-gnu");
        assert!(dir.join("config.sub.orig").is_file());
    }
}
