//! The `cc` template: for sources without a build system the cross compile
//! can use (or whose build system is not worth it), the cookbook calls the
//! compiler itself. Each of `sources` (`*` in a file name matches) is
//! compiled with `$CC $CFLAGS -I<source> -c`; the objects become
//! `lib<library>.a` (`$AR rcs`), installed with `headers` into
//! `stage/usr/{lib,include}`; each of `programs` is compiled and linked with
//! that library and installed into `stage/usr/bin`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cook::{Dirs, run};
use crate::error::{ErrorKind, KindResult};
use crate::recipe::Recipe;

/// Expands `pattern` (relative to `root`; `*` only in the last component).
pub fn expand(root: &Path, pattern: &str) -> KindResult<Vec<String>> {
    let (dir, file) = pattern.rsplit_once('/').map_or(("", pattern), |(d, f)| (d, f));
    if !file.contains('*') {
        return if root.join(pattern).is_file() {
            Ok(vec![pattern.to_string()])
        } else {
            Err(ErrorKind::Invalid(format!("source file {pattern} is not in the source")))
        };
    }
    let (prefix, suffix) = file.split_once('*').unwrap_or((file, ""));
    if suffix.contains('*') {
        return Err(ErrorKind::Invalid(format!("{pattern}: only one * is supported")));
    }
    let path = root.join(dir);
    let mut out: Vec<String> = std::fs::read_dir(&path)
        .map_err(|e| ErrorKind::io(&path, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.len() >= prefix.len() + suffix.len() && n.starts_with(prefix) && n.ends_with(suffix))
        .map(|n| if dir.is_empty() { n } else { format!("{dir}/{n}") })
        .collect();
    out.sort();
    if out.is_empty() {
        return Err(ErrorKind::Invalid(format!("{pattern} matches no file in the source")));
    }
    Ok(out)
}

fn var<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    env.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// `$CC` with the recipe's variables; checks that the wrapper exists.
fn cc(env: &[(String, String)], recipe: &Recipe, source: &Path) -> KindResult<Command> {
    let cc = var(env, "CC");
    if !Path::new(cc).is_file() {
        return Err(ErrorKind::Tool {
            tool: cc.to_string(),
            detail: "missing: run `make sysroot arch=…` first".into(),
        });
    }
    let mut cmd = Command::new(cc);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.arg("-O2").arg(format!("-I{}/usr/include", var(env, "COOKBOOK_SYSROOT")));
    cmd.args(&recipe.build.cflags);
    cmd.arg("-I").arg(source);
    Ok(cmd)
}

pub fn build(recipe: &Recipe, dirs: &Dirs, env: &[(String, String)]) -> KindResult<()> {
    let b = &recipe.build;
    let source = &dirs.source;
    let obj_dir = dirs.build.join("obj");
    std::fs::create_dir_all(&obj_dir).map_err(|e| ErrorKind::io(&obj_dir, e))?;
    let mut archive: Option<PathBuf> = None;
    if let Some(lib) = &b.library {
        let mut objects = Vec::new();
        for pattern in &b.sources {
            for file in expand(source, pattern)? {
                let obj = obj_dir.join(format!("{}.o", file.replace('/', "__")));
                let mut cmd = cc(env, recipe, source)?;
                cmd.arg("-c").arg(source.join(&file)).arg("-o").arg(&obj);
                run(cmd, &format!("cc {file}"))?;
                objects.push(obj);
            }
        }
        let a = dirs.build.join(format!("lib{lib}.a"));
        let _ = std::fs::remove_file(&a);
        let mut cmd = Command::new(var(env, "AR"));
        cmd.arg("rcs").arg(&a).args(&objects);
        run(cmd, &format!("ar lib{lib}.a"))?;
        install(&a, &dirs.stage.join("usr/lib"))?;
        for pattern in &b.headers {
            for h in expand(source, pattern)? {
                install(&source.join(&h), &dirs.stage.join("usr/include"))?;
            }
        }
        archive = Some(a);
    }
    for p in &b.programs {
        let out = dirs.build.join(&p.name);
        let mut cmd = cc(env, recipe, source)?;
        for pattern in &p.sources {
            for file in expand(source, pattern)? {
                cmd.arg(source.join(file));
            }
        }
        cmd.args(&archive);
        cmd.arg(format!("-L{}/usr/lib", var(env, "COOKBOOK_SYSROOT")));
        cmd.args(p.libs.iter().map(|l| format!("-l{l}")));
        cmd.arg("-o").arg(&out);
        run(cmd, &format!("link {}", p.name))?;
        install(&out, &dirs.stage.join("usr/bin"))?;
    }
    Ok(())
}

/// Copies `file` into directory `dir` (created), keeping its name and mode.
fn install(file: &Path, dir: &Path) -> KindResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| ErrorKind::io(dir, e))?;
    let name = file.file_name().unwrap_or_default();
    std::fs::copy(file, dir.join(name)).map_err(|e| ErrorKind::io(file, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_expand_sorted() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("src")).unwrap();
        for f in ["src/b.c", "src/a.c", "src/a.h", "top.c"] {
            std::fs::write(tmp.path().join(f), "").unwrap();
        }
        assert_eq!(expand(tmp.path(), "src/*.c").unwrap(), ["src/a.c", "src/b.c"]);
        assert_eq!(expand(tmp.path(), "top.c").unwrap(), ["top.c"]);
        assert_eq!(expand(tmp.path(), "*.c").unwrap(), ["top.c"]);
        assert!(matches!(expand(tmp.path(), "none.c"), Err(ErrorKind::Invalid(_))));
        assert!(matches!(expand(tmp.path(), "src/*.x"), Err(ErrorKind::Invalid(_))));
        assert!(matches!(expand(tmp.path(), "src/*.*"), Err(ErrorKind::Invalid(_))));
    }
}
