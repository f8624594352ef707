//! cookbook: cooks recipes (`cookbook/recipes/<name>/recipe.toml`) into stage
//! directories under `build/<arch>/cookbook/<name>/stage` (docs/cookbook.md).
//!
//! ```text
//! cookbook [options] cook|fetch|order <recipe>...     cookbook [options] list
//!   --arch A        x86_64 (default) or aarch64
//!   --offline       use only the cache (also COOKBOOK_OFFLINE=1)
//!   --recipes DIR   cookbook/recipes      --build DIR   build
//!   --cache DIR     build/cookbook-cache (also COOKBOOK_CACHE)
//!   --sysroot DIR   build/<arch>/sysroot (relibc-shim's: the compiler wrappers)
//!   --jobs N        make -j N             --force       cook even if up to date
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use cookbook::{Config, Fetcher, Outcome};

const USAGE: &str = "usage: cookbook [--arch x86_64|aarch64] [--offline] [--recipes DIR] [--build DIR] \
[--cache DIR] [--sysroot DIR] [--jobs N] [--force] cook|fetch|order RECIPE... | list";

struct Args {
    config: Config,
    command: String,
    names: Vec<String>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut arch = "x86_64".to_string();
    let mut offline = std::env::var("COOKBOOK_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0");
    let mut recipes = PathBuf::from("cookbook/recipes");
    let mut build = PathBuf::from("build");
    let mut cache = std::env::var_os("COOKBOOK_CACHE").map(PathBuf::from);
    let mut sysroot = None;
    let mut jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut force = false;
    let mut rest = Vec::new();
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--arch" => arch = value("--arch")?,
            "--offline" => offline = true,
            "--recipes" => recipes = value("--recipes")?.into(),
            "--build" => build = value("--build")?.into(),
            "--cache" => cache = Some(value("--cache")?.into()),
            "--sysroot" => sysroot = Some(PathBuf::from(value("--sysroot")?)),
            "--jobs" => jobs = value("--jobs")?.parse().map_err(|_| "--jobs needs a number".to_string())?,
            "--force" => force = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => rest.push(a),
        }
    }
    if arch != "x86_64" && arch != "aarch64" {
        return Err(format!("--arch {arch}: x86_64 or aarch64"));
    }
    let cache = cache.unwrap_or_else(|| build.join("cookbook-cache"));
    let toolchain = sysroot.unwrap_or_else(|| build.join(&arch).join("sysroot"));
    // Scripts run in other directories, and apt reads relative paths as its own.
    let abs = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let (recipes, build, cache, toolchain) = (abs(recipes), abs(build), abs(cache), abs(toolchain));
    let mut rest = rest.into_iter();
    let command = rest.next().ok_or("no command")?;
    let names: Vec<String> = rest.collect();
    let config =
        Config { arch, recipes, build, toolchain, fetcher: Fetcher { cache, offline }, jobs: jobs.max(1), force };
    Ok(Args { config, command, names })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("cookbook: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let c = &args.config;
    let result = match args.command.as_str() {
        "list" => list(c),
        _ if args.names.is_empty() => Err(format!("{} needs recipe names", args.command)),
        "order" => {
            c.order(&args.names).map(|o| o.iter().for_each(|r| println!("{}", r.name))).map_err(|e| e.to_string())
        }
        "fetch" => report(c.fetch(&args.names)),
        "cook" => report(c.cook(&args.names)),
        other => Err(format!("unknown command {other}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cookbook: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn report(r: Result<Vec<(String, Outcome)>, cookbook::Error>) -> Result<(), String> {
    for (name, outcome) in r.map_err(|e| e.to_string())? {
        let what = match outcome {
            Outcome::Cooked => "cooked",
            Outcome::UpToDate => "up to date",
            Outcome::Fetched => "source fetched and verified",
        };
        println!("cookbook: {name}: {what}");
    }
    Ok(())
}

fn list(c: &Config) -> Result<(), String> {
    let entries = std::fs::read_dir(&c.recipes).map_err(|e| format!("{}: {e}", c.recipes.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("recipe.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.iter().for_each(|n| println!("{n}"));
    Ok(())
}
