//! The cookbook on fixture recipes (tests/fixtures/recipes) and a fixture
//! cache (tests/fixtures/cache): parsing, the cook order, checksums, offline
//! mode, and what a recipe's script sees. No network: every source is a
//! local directory or already in the (copied) fixture cache, and every run
//! is offline except where a test says otherwise.

use std::path::{Path, PathBuf};

use cookbook::{Config, ErrorKind, Fetcher, Outcome};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A config cooking into `tmp`, with a copy of the fixture cache when `cache`.
fn config(tmp: &Path, cache: bool) -> Config {
    let cache_dir = tmp.join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    if cache {
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixtures().join("cache/."))
            .arg(&cache_dir)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let toolchain = tmp.join("sysroot");
    std::fs::create_dir_all(toolchain.join("bin")).unwrap();
    Config {
        arch: "x86_64".into(),
        recipes: fixtures().join("recipes"),
        build: tmp.join("build"),
        toolchain,
        fetcher: Fetcher { cache: cache_dir, offline: true },
        jobs: 1,
        force: false,
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn order_puts_build_dependencies_first() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), false);
    let order: Vec<String> = c.order(&names(&["order-a"])).unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(order, ["order-c", "order-b", "order-a"]);
    // Run-time dependencies are cooked too; order-c's on order-a closes a
    // run-time loop, which is allowed.
    let order: Vec<String> = c.order(&names(&["envdump"])).unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(order, ["lib-dep", "envdump", "order-c", "order-b", "order-a"]);
}

#[test]
fn package_closure_follows_run_time_dependencies_only() {
    let recipes = fixtures().join("recipes");
    let load = |n: &str| cookbook::Recipe::load(&recipes, n);
    // envdump's build dependency lib-dep is linked in, not installed; its
    // run-time one, order-c, brings order-a (a run-time loop back is fine);
    // order-a's build dependencies are not followed.
    let got: Vec<String> =
        cookbook::order::package_closure(&names(&["envdump"]), load).unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(got, ["envdump", "order-c", "order-a"]);
    let got: Vec<String> = cookbook::order::package_closure(&names(&["order-a", "envdump", "order-a"]), load)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(got, ["order-a", "envdump", "order-c"]);
    let err = cookbook::order::package_closure(&names(&["no-such-recipe"]), load).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::NoRecipe(_)), "{err}");
    assert_eq!(err.recipe, "no-such-recipe");
    let err = cookbook::order::package_closure(&names(&["pkg-missing-dep"]), load).unwrap_err();
    assert_eq!(err.recipe, "pkg-missing-dep");
    assert!(err.to_string().contains("dependency no-such-recipe: no recipe"), "{err}");
}

#[test]
fn a_build_dependency_cycle_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = config(tmp.path(), false).order(&names(&["cycle-x"])).unwrap_err();
    match &err.kind {
        ErrorKind::Cycle(path) => assert_eq!(path, &["cycle-x", "cycle-y", "cycle-x"]),
        other => panic!("expected a cycle, got {other:?}"),
    }
    assert!(err.to_string().contains("dependency cycle: cycle-x -> cycle-y -> cycle-x"), "{err}");
}

#[test]
fn a_missing_recipe_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let err = config(tmp.path(), false).order(&names(&["no-such-recipe"])).unwrap_err();
    assert_eq!(err.recipe, "no-such-recipe");
    assert!(matches!(err.kind, ErrorKind::NoRecipe(_)), "{err}");
}

#[test]
fn git_sources_are_refused_with_the_recipe_name() {
    let tmp = tempfile::tempdir().unwrap();
    let err = config(tmp.path(), false).order(&names(&["bad-git"])).unwrap_err();
    assert!(err.to_string().starts_with("recipe bad-git: recipe.toml: git sources are not supported"), "{err}");
}

#[test]
fn a_wrong_checksum_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let err = config(tmp.path(), true).cook(&names(&["bad-sum"])).unwrap_err();
    match &err.kind {
        ErrorKind::Checksum { expected, actual, file } => {
            assert!(expected.starts_with("0000000000"));
            assert_eq!(actual, "8cb197172d80c8c1e5e51fda07ccaf2f9f18f73da6d032f7b20e49838dadc7aa");
            assert!(file.ends_with("crates/demo-0.1.0.crate"));
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(err.to_string().starts_with("recipe bad-sum: checksum mismatch:"), "{err}");
    // Nothing was cooked.
    assert!(!tmp.path().join("build/x86_64/cookbook/bad-sum/stage").exists());
}

#[test]
fn a_damaged_cached_file_fails_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), true);
    let crate_file = c.fetcher.cache.join("crates/demo-0.1.0.crate");
    let mut bytes = std::fs::read(&crate_file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&crate_file, bytes).unwrap();
    let err = c.cook(&names(&["demo-crate"])).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::Checksum { .. }), "{err}");
}

#[test]
fn offline_with_the_cache_cooks_a_crate_source() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), true);
    let done = c.cook(&names(&["demo-crate"])).unwrap();
    assert_eq!(done, [("demo-crate".to_string(), Outcome::Cooked)]);
    let stage = tmp.path().join("build/x86_64/cookbook/demo-crate/stage");
    assert_eq!(std::fs::read_to_string(stage.join("usr/share/demo/hello.txt")).unwrap(), "hello from the crate\n");
    // The crate's top directory was stripped.
    assert!(tmp.path().join("build/x86_64/cookbook/demo-crate/source/Cargo.toml").is_file());
    // Unchanged: not cooked again.
    assert_eq!(c.cook(&names(&["demo-crate"])).unwrap(), [("demo-crate".to_string(), Outcome::UpToDate)]);
}

#[test]
fn offline_without_the_cache_names_every_missing_source() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), false);
    let err = c.fetch(&names(&["demo-crate"])).unwrap_err();
    match &err.kind {
        ErrorKind::Offline { what, path } => {
            assert_eq!(what, "crate demo 0.1.0");
            assert!(path.ends_with("crates/demo-0.1.0.crate"));
        }
        other => panic!("expected offline, got {other:?}"),
    }
    assert!(err.to_string().contains("is not in the cache"), "{err}");
    let err = c.fetch(&names(&["demo-crate", "demo-deb"])).unwrap_err();
    match &err.kind {
        ErrorKind::OfflineMissing(list) => {
            let recipes: Vec<&str> = list.iter().map(|e| e.recipe.as_str()).collect();
            assert_eq!(recipes, ["demo-crate", "demo-deb"]);
        }
        other => panic!("expected two missing sources, got {other:?}"),
    }
}

#[test]
fn offline_deb_source_is_checked_against_its_dsc() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), true);
    c.fetch(&names(&["demo-deb"])).unwrap();
    // A tarball that does not match the .dsc's Checksums-Sha256.
    let tarball = c.fetcher.cache.join("deb/demo_1.0/demo_1.0.tar.xz");
    let mut bytes = std::fs::read(&tarball).unwrap();
    bytes.push(0);
    std::fs::write(&tarball, bytes).unwrap();
    let err = c.fetch(&names(&["demo-deb"])).unwrap_err();
    match &err.kind {
        ErrorKind::Checksum { file, expected, .. } => {
            assert!(file.ends_with("demo_1.0.tar.xz"));
            assert!(expected.contains("from the .dsc"), "{expected}");
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    // A file the .dsc lists that is missing, offline.
    std::fs::remove_file(&tarball).unwrap();
    let err = c.fetch(&names(&["demo-deb"])).unwrap_err();
    assert!(matches!(&err.kind, ErrorKind::Offline { path, .. } if path.ends_with("demo_1.0.tar.xz")), "{err}");
}

#[test]
fn offline_deb_source_unpacks_with_dpkg_source() {
    if std::process::Command::new("dpkg-source").arg("--version").output().is_err() {
        eprintln!("skipped: dpkg-source is not installed (Debian package dpkg-dev)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), true);
    c.cook(&names(&["demo-deb"])).unwrap();
    let staged = tmp.path().join("build/x86_64/cookbook/demo-deb/stage/hello.txt");
    assert_eq!(std::fs::read_to_string(staged).unwrap(), "hello from the deb\n");
}

#[test]
fn scripts_see_the_cookbook_variables() {
    let tmp = tempfile::tempdir().unwrap();
    let c = config(tmp.path(), false);
    c.cook(&names(&["envdump"])).unwrap();
    let work = tmp.path().join("build/x86_64/cookbook/envdump");
    let text = std::fs::read_to_string(work.join("stage/env.txt")).unwrap();
    let has = |line: String| assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    let p = |sub: &str| work.join(sub).display().to_string();
    has(format!("COOKBOOK_SOURCE={}", p("source")));
    has(format!("COOKBOOK_BUILD={}", p("build")));
    has(format!("COOKBOOK_STAGE={}", p("stage")));
    has(format!("COOKBOOK_SYSROOT={}", p("sysroot")));
    has(format!("COOKBOOK_RECIPE={}", fixtures().join("recipes/envdump").display()));
    has(format!("COOKBOOK_CONFIGURE={}/configure", p("source")));
    has(format!("COOKBOOK_TOOLCHAIN={}", tmp.path().join("sysroot").display()));
    has(format!("CC={}/sysroot/bin/x86_64-unknown-tessera-cc", tmp.path().display()));
    has(format!("AR={}/sysroot/bin/x86_64-unknown-tessera-ar", tmp.path().display()));
    has(format!("PKG_CONFIG={}/sysroot/bin/x86_64-unknown-tessera-pkg-config", tmp.path().display()));
    has("COOKBOOK_MAKE=make".into());
    has("COOKBOOK_MAKE_JOBS=1".into());
    has("COOKBOOK_OFFLINE=1".into());
    has("TARGET=x86_64-unknown-tessera".into());
    has("GNU_TARGET=x86_64-unknown-tessera".into());
    has("ARCH=x86_64".into());
    has(format!("PWD={}", p("build")));
    // The flags array: Redox's defaults, then the recipe's (one word with a space).
    has("FLAG=--host=x86_64-unknown-tessera".into());
    has("FLAG=--prefix=/usr".into());
    has("FLAG=--disable-shared".into());
    has("FLAG=--with-thing=a b".into());
    has("SYSROOT_HAS_LIB_DEP=yes".into());
    has("SOURCE_HAS_LOCAL=yes".into());
    has("HAS_COOKBOOK_CONFIGURE=yes".into());
}

#[test]
fn a_failing_script_is_a_build_error_of_its_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let recipes = tmp.path().join("recipes/fails");
    std::fs::create_dir_all(&recipes).unwrap();
    std::fs::write(recipes.join("recipe.toml"), "[build]\ntemplate = \"custom\"\nscript = \"false\"\n").unwrap();
    let mut c = config(tmp.path(), false);
    c.recipes = tmp.path().join("recipes");
    let err = c.cook(&names(&["fails"])).unwrap_err();
    assert_eq!(err.recipe, "fails");
    assert!(matches!(err.kind, ErrorKind::Build { .. }), "{err}");
    // No stamp: the next cook tries again.
    assert!(!tmp.path().join("build/x86_64/cookbook/fails/stamp").exists());
}
