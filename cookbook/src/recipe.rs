//! recipe.toml: Redox's recipe schema, with the source kinds this project's
//! machines can reach (docs/cookbook.md).
//!
//! ```toml
//! [source]
//! deb = "zlib"                      # or crate / npm / pypi / tar
//! version = "1:1.2.13.dfsg-1"
//! sha256 = "…"                      # the .dsc's (deb) or the download's
//! [build]
//! template = "cc"                   # cc | configure | cmake | custom | none
//! dependencies = []                 # recipes whose stage this build needs
//! [package]
//! dependencies = []                 # recipes needed at run time
//! ```
//!
//! [`RecipeFile`] is what serde reads (unknown keys are errors, so a typo is
//! caught); [`Recipe::load`] checks it and turns `[source]` into a [`Source`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ErrorKind, KindResult};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    pub source: Option<SourceSpec>,
    pub build: BuildSpec,
    #[serde(default)]
    pub package: PackageSpec,
}

/// `[source]` as written: exactly one of `crate`, `deb`, `npm`, `pypi`,
/// `tar`; without `[source]` the recipe's own `source/` directory is used.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    #[serde(rename = "crate")]
    pub krate: Option<String>,
    pub deb: Option<String>,
    pub npm: Option<String>,
    pub pypi: Option<String>,
    pub tar: Option<String>,
    /// Redox's; refused with an explanation (no git host is reachable).
    pub git: Option<String>,
    pub branch: Option<String>,
    pub rev: Option<String>,
    /// Redox's tarball checksum; refused: sources are pinned by `sha256`.
    pub blake3: Option<String>,
    pub version: Option<String>,
    pub sha256: Option<String>,
    /// A file inside the package to use as the source (an archive is unpacked).
    pub file: Option<String>,
    /// A directory inside the package (after `file`) to use as the source.
    pub subdir: Option<String>,
    /// Patch files next to recipe.toml, applied with `patch -p1`.
    #[serde(default)]
    pub patches: Vec<String>,
    /// Shell run in the unpacked source after the patches.
    pub script: Option<String>,
}

/// How the build is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Template {
    /// The cookbook compiles `sources` into `lib<library>.a` and links `programs`.
    Cc,
    /// `$COOKBOOK_CONFIGURE "${COOKBOOK_CONFIGURE_FLAGS[@]}"`, make, make install.
    Configure,
    /// cmake with the sysroot's toolchain file, make, make install.
    Cmake,
    /// The recipe's `script`.
    Custom,
    /// Nothing to build (a package made only of dependencies).
    None,
}

/// A program of the `cc` template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub name: String,
    pub sources: Vec<String>,
    /// Extra `-l` names (after the recipe's own library).
    #[serde(default)]
    pub libs: Vec<String>,
}

/// `[build]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildSpec {
    pub template: Template,
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Added to `COOKBOOK_CONFIGURE_FLAGS` (Redox's name).
    #[serde(default)]
    pub configureflags: Vec<String>,
    /// Added to `COOKBOOK_CMAKE_FLAGS` (Redox's name).
    #[serde(default)]
    pub cmakeflags: Vec<String>,
    /// Added to `CFLAGS`.
    #[serde(default)]
    pub cflags: Vec<String>,
    /// The `custom` template's shell script.
    pub script: Option<String>,
    /// `cc`: the static library's name (`z` makes `libz.a`).
    pub library: Option<String>,
    /// `cc`: the library's C files, relative to the source (`*` in the file name matches).
    #[serde(default)]
    pub sources: Vec<String>,
    /// `cc`: headers installed into `usr/include`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// `cc`: programs linked with the library, installed into `usr/bin`.
    #[serde(default)]
    pub programs: Vec<Program>,
}

/// `[package]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    /// Recipes needed at run time (cooked too, not put into the build's sysroot).
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// Where a source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The Cargo registry's `.crate` (a .tar.gz).
    Crate { name: String, version: String },
    /// A Debian source package through a private apt configuration.
    Deb { name: String, version: String },
    /// The npm registry's package tarball.
    Npm { name: String, version: String },
    /// PyPI's sdist of a release.
    Pypi { name: String, version: String },
    /// A tarball at a URL (Redox's `tar =`).
    Tar { url: String },
    /// The recipe's own `source/` directory (empty if there is none).
    Local,
}

/// `[source]`, checked.
#[derive(Debug, Clone)]
pub struct Source {
    pub origin: Origin,
    /// Lowercase hex; `None` only for [`Origin::Local`].
    pub sha256: Option<String>,
    pub file: Option<String>,
    pub subdir: Option<String>,
    pub patches: Vec<String>,
    pub script: Option<String>,
}

/// A loaded, checked recipe.
#[derive(Debug)]
pub struct Recipe {
    pub name: String,
    /// `recipes/<name>/`.
    pub dir: PathBuf,
    pub source: Source,
    pub build: BuildSpec,
    pub package: PackageSpec,
}

impl Recipe {
    /// Reads and checks `<recipes>/<name>/recipe.toml`.
    pub fn load(recipes: &Path, name: &str) -> KindResult<Recipe> {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(ErrorKind::Invalid(format!("{name:?} is not a recipe name")));
        }
        let dir = recipes.join(name);
        let path = dir.join("recipe.toml");
        if !path.is_file() {
            return Err(ErrorKind::NoRecipe(path));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ErrorKind::io(&path, e))?;
        Recipe::parse(name, &dir, &text)
    }

    /// Checks the text of a recipe.toml of recipe `name` living in `dir`.
    pub fn parse(name: &str, dir: &Path, text: &str) -> KindResult<Recipe> {
        let file: RecipeFile = toml::from_str(text)?;
        let source = check_source(file.source.unwrap_or_default(), dir)?;
        check_build(&file.build)?;
        Ok(Recipe { name: name.to_string(), dir: dir.to_path_buf(), source, build: file.build, package: file.package })
    }
}

fn check_source(spec: SourceSpec, dir: &Path) -> KindResult<Source> {
    if spec.git.is_some() || spec.branch.is_some() || spec.rev.is_some() {
        return Err(ErrorKind::Invalid(
            "git sources are not supported: no git host is reachable from this project's machines; \
             use crate, deb, npm, pypi or tar"
                .into(),
        ));
    }
    if spec.blake3.is_some() {
        return Err(ErrorKind::Invalid("blake3 is not used here: pin the source with sha256".into()));
    }
    let version =
        |kind: &str| spec.version.clone().ok_or_else(|| ErrorKind::Invalid(format!("a {kind} source needs a version")));
    let mut origins = Vec::new();
    if let Some(name) = &spec.krate {
        origins.push(Origin::Crate { name: name.clone(), version: version("crate")? });
    }
    if let Some(name) = &spec.deb {
        origins.push(Origin::Deb { name: name.clone(), version: version("deb")? });
    }
    if let Some(name) = &spec.npm {
        origins.push(Origin::Npm { name: name.clone(), version: version("npm")? });
    }
    if let Some(name) = &spec.pypi {
        origins.push(Origin::Pypi { name: name.clone(), version: version("pypi")? });
    }
    if let Some(url) = &spec.tar {
        origins.push(Origin::Tar { url: url.clone() });
    }
    let origin = match origins.len() {
        0 => Origin::Local,
        1 => origins.remove(0),
        _ => return Err(ErrorKind::Invalid("[source] names more than one of crate, deb, npm, pypi, tar".into())),
    };
    for name in [&spec.krate, &spec.deb, &spec.npm, &spec.pypi].into_iter().flatten() {
        if name.is_empty() || name.contains(['/', ' ']) && !name.starts_with('@') {
            return Err(ErrorKind::Invalid(format!("{name:?} is not a package name")));
        }
    }
    let sha256 = match (&origin, spec.sha256) {
        (Origin::Local, Some(_)) => {
            return Err(ErrorKind::Invalid("sha256 without a source to check (crate, deb, npm, pypi, tar)".into()));
        }
        (Origin::Local, None) => {
            if spec.version.is_some() || spec.file.is_some() {
                return Err(ErrorKind::Invalid("version / file without a crate, deb, npm, pypi or tar source".into()));
            }
            None
        }
        (_, None) => return Err(ErrorKind::Invalid("the source is not pinned: add sha256 = \"…\"".into())),
        (_, Some(sum)) => {
            if sum.len() != 64 || !sum.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ErrorKind::Invalid(format!("sha256 {sum:?} is not 64 hex digits")));
            }
            Some(sum.to_ascii_lowercase())
        }
    };
    if matches!(origin, Origin::Deb { .. }) && spec.file.is_some() {
        return Err(ErrorKind::Invalid("file is not used with deb (dpkg-source unpacks the package)".into()));
    }
    for rel in [&spec.file, &spec.subdir].into_iter().flatten() {
        check_relative(rel)?;
    }
    for patch in &spec.patches {
        check_relative(patch)?;
        if !dir.join(patch).is_file() {
            return Err(ErrorKind::Invalid(format!("patch {patch} is not in {}", dir.display())));
        }
    }
    Ok(Source { origin, sha256, file: spec.file, subdir: spec.subdir, patches: spec.patches, script: spec.script })
}

/// A path inside the package: relative, without `..`.
fn check_relative(rel: &str) -> KindResult<()> {
    let path = Path::new(rel);
    if rel.is_empty() || path.is_absolute() || path.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(ErrorKind::Invalid(format!("{rel:?} must be a relative path inside the package")));
    }
    Ok(())
}

fn check_build(build: &BuildSpec) -> KindResult<()> {
    let cc_only =
        build.library.is_some() || !build.sources.is_empty() || !build.headers.is_empty() || !build.programs.is_empty();
    match build.template {
        Template::Custom if build.script.is_none() => {
            return Err(ErrorKind::Invalid("template = \"custom\" needs a script".into()));
        }
        Template::Custom => {}
        t if build.script.is_some() => {
            return Err(ErrorKind::Invalid(format!(
                "script is for template = \"custom\" (this recipe's template is {t:?})"
            )));
        }
        _ => {}
    }
    if build.template == Template::Cc {
        if build.library.is_none() && build.programs.is_empty() {
            return Err(ErrorKind::Invalid("template = \"cc\" needs a library or programs".into()));
        }
        if build.library.is_some() == build.sources.is_empty() {
            return Err(ErrorKind::Invalid("template = \"cc\": library and sources go together".into()));
        }
        for p in &build.programs {
            if p.name.is_empty() || p.name.contains('/') || p.sources.is_empty() {
                return Err(ErrorKind::Invalid(format!("program {:?} needs a plain name and sources", p.name)));
            }
        }
    } else if cc_only {
        return Err(ErrorKind::Invalid("library, sources, headers and programs are for template = \"cc\"".into()));
    }
    if !build.configureflags.is_empty() && build.template != Template::Configure && build.template != Template::Custom {
        return Err(ErrorKind::Invalid("configureflags are for template = \"configure\" (or custom)".into()));
    }
    if !build.cmakeflags.is_empty() && build.template != Template::Cmake && build.template != Template::Custom {
        return Err(ErrorKind::Invalid("cmakeflags are for template = \"cmake\" (or custom)".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> KindResult<Recipe> {
        Recipe::parse("t", Path::new("/nonexistent/t"), text)
    }

    fn invalid(text: &str) -> String {
        match parse(text) {
            Err(ErrorKind::Invalid(msg)) => msg,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    const SUM: &str = "3fa1e6b2fc525062aa88207dda52fed8e045373c809d362fe8a2bfbf7cf515a8";

    #[test]
    fn the_zlib_recipe_parses() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes");
        let r = Recipe::load(&dir, "zlib").unwrap();
        assert_eq!(r.source.origin, Origin::Deb { name: "zlib".into(), version: "1:1.2.13.dfsg-1".into() });
        assert_eq!(r.source.sha256.as_deref(), Some(SUM));
        assert_eq!(r.build.template, Template::Cc);
        assert_eq!(r.build.library.as_deref(), Some("z"));
        let programs: Vec<&str> = r.build.programs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(programs, ["example", "minigzip"]);
    }

    #[test]
    fn every_source_kind_parses() {
        let r = parse(&format!(
            "[source]\ncrate = \"libz-sys\"\nversion = \"1.1.20\"\nsubdir = \"src/zlib\"\nsha256 = \"{}\"\n\
             [build]\ntemplate = \"configure\"\nconfigureflags = [\"--x\"]\ndependencies = [\"a\"]\n\
             [package]\ndependencies = [\"b\"]\n",
            SUM.to_uppercase()
        ))
        .unwrap();
        assert_eq!(r.source.origin, Origin::Crate { name: "libz-sys".into(), version: "1.1.20".into() });
        assert_eq!(r.source.sha256.as_deref(), Some(SUM), "the pin is kept in lowercase");
        assert_eq!(r.source.subdir.as_deref(), Some("src/zlib"));
        assert_eq!(r.build.dependencies, ["a"]);
        assert_eq!(r.package.dependencies, ["b"]);
        let r = parse(&format!(
            "[source]\nnpm = \"sqlite3\"\nversion = \"5.1.7\"\nfile = \"deps/x.tar.gz\"\nsha256 = \"{SUM}\"\n\
             [build]\ntemplate = \"none\"\n"
        ))
        .unwrap();
        assert_eq!(r.source.origin, Origin::Npm { name: "sqlite3".into(), version: "5.1.7".into() });
        assert_eq!(r.source.file.as_deref(), Some("deps/x.tar.gz"));
        let r = parse(&format!(
            "[source]\npypi = \"p\"\nversion = \"1\"\nsha256 = \"{SUM}\"\n[build]\ntemplate = \"none\"\n"
        ));
        assert_eq!(r.unwrap().source.origin, Origin::Pypi { name: "p".into(), version: "1".into() });
        let r = parse(&format!(
            "[source]\ntar = \"https://h/x.tar.gz\"\nsha256 = \"{SUM}\"\n[build]\ntemplate = \"none\"\n"
        ));
        assert_eq!(r.unwrap().source.origin, Origin::Tar { url: "https://h/x.tar.gz".into() });
        let r = parse("[build]\ntemplate = \"custom\"\nscript = \"true\"\n").unwrap();
        assert_eq!(r.source.origin, Origin::Local);
    }

    #[test]
    fn bad_recipes_are_refused() {
        let none = "[build]\ntemplate = \"none\"\n";
        assert!(invalid(&format!("[source]\ncrate = \"z\"\nversion = \"1\"\n{none}")).contains("not pinned"));
        assert!(invalid(&format!("[source]\ncrate = \"z\"\nsha256 = \"{SUM}\"\n{none}")).contains("needs a version"));
        assert!(
            invalid(&format!("[source]\ncrate = \"z\"\nversion = \"1\"\nsha256 = \"abc\"\n{none}")).contains("64 hex")
        );
        assert!(
            invalid(&format!("[source]\ncrate = \"z\"\nnpm = \"y\"\nversion = \"1\"\nsha256 = \"{SUM}\"\n{none}"))
                .contains("more than one")
        );
        assert!(invalid(&format!("[source]\ngit = \"https://x/y.git\"\n{none}")).contains("git sources"));
        assert!(invalid(&format!("[source]\ntar = \"u\"\nblake3 = \"x\"\n{none}")).contains("blake3"));
        assert!(
            invalid(&format!(
                "[source]\ncrate = \"z\"\nversion = \"1\"\nsubdir = \"../x\"\nsha256 = \"{SUM}\"\n{none}"
            ))
            .contains("relative path")
        );
        assert!(invalid(&format!("[source]\nsha256 = \"{SUM}\"\n{none}")).contains("without a source"));
        assert!(invalid("[build]\ntemplate = \"custom\"\n").contains("needs a script"));
        assert!(invalid("[build]\ntemplate = \"configure\"\nscript = \"x\"\n").contains("script is for"));
        assert!(invalid("[build]\ntemplate = \"cc\"\n").contains("library or programs"));
        assert!(invalid("[build]\ntemplate = \"cc\"\nlibrary = \"z\"\n").contains("go together"));
        assert!(invalid("[build]\ntemplate = \"none\"\nsources = [\"a.c\"]\n").contains("for template = \"cc\""));
        assert!(
            invalid("[build]\ntemplate = \"cc\"\nprograms = [{ name = \"a/b\", sources = [\"x.c\"] }]\n")
                .contains("plain name")
        );
        assert!(invalid("[build]\ntemplate = \"cmake\"\nconfigureflags = [\"x\"]\n").contains("configureflags"));
        assert!(
            invalid(&format!("[source]\ndeb = \"z\"\nversion = \"1\"\nfile = \"f\"\nsha256 = \"{SUM}\"\n{none}"))
                .contains("deb")
        );
    }

    #[test]
    fn schema_errors_come_from_serde() {
        for text in [
            "[build]\ntemplate = \"meson\"\n",
            "[build]\ntemplate = \"none\"\ntypo = 1\n",
            "[source]\ncrate = 5\n[build]\ntemplate = \"none\"\n",
            "[build]\n",
            "not toml",
        ] {
            assert!(matches!(parse(text), Err(ErrorKind::Parse(_))), "{text:?} should be a parse error");
        }
    }

    #[test]
    fn bad_recipe_names_are_refused() {
        for name in ["", "../x", "a/b", ".hidden"] {
            assert!(matches!(Recipe::load(Path::new("."), name), Err(ErrorKind::Invalid(_))), "{name:?}");
        }
    }
}
