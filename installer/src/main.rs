//! `installer` command line: parses the arguments the Makefile passes, runs
//! [`installer::install`] (or, with `--list-packages`, prints the config's packages and
//! their run-time dependencies, one per line, for the Makefile to cook), and turns any
//! failure into `installer: error: …` and exit 1.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use installer::{Arch, Config, Install};

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    /// Make an image.
    Install(Install),
    /// `--list-packages CONFIG`: print the packages to cook.
    ListPackages { config: PathBuf, recipes: PathBuf },
}

const USAGE: &str = "\
usage: installer --config <file.toml> --arch x86_64|aarch64
                 --loader <loader.efi> --kernel <kernel ELF> --initfs <initfs>
                 [--env KEY=VALUE]... [--root-dir <dir>] [--keep-root]
                 [--recipes <dir>] [--cookbook-build <dir>] --output <image>
       installer --list-packages <file.toml> [--recipes <dir>]

Makes a GPT disk image with a FAT EFI System Partition holding the loader
(EFI/BOOT/BOOTX64.EFI or BOOTAA64.EFI), /kernel, /initfs and /env.
--env entries override the config's [env] table and may be repeated.
With [general] filesystem_size > 0, partition 2 is a RedoxFS root filesystem
holding --root-dir's tree, the stages of the config's [packages] and their
run-time dependencies (--cookbook-build: where `make cook` left them, e.g.
build/x86_64/cookbook; --recipes: cookbook/recipes), then the config's [[files]].
--keep-root: if <image> exists with a RedoxFS root partition in the same place,
the new image keeps that partition as it is (what the guest wrote survives).
--list-packages prints the packages, one per line; a package without a
recipe is an error.";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let result = parse_args(args).and_then(|command| run(&command).map_err(|e| e.to_string().trim_end().to_owned()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("installer: error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &Command) -> installer::Result<()> {
    match command {
        Command::Install(install) => installer::install(install),
        Command::ListPackages { config, recipes } => {
            let loaded = Config::load(config)?;
            for name in installer::packages::resolve(&loaded, config, recipes)? {
                println!("{name}");
            }
            Ok(())
        }
    }
}

/// Parses the arguments (without the program name). Each option takes one value, given
/// as the next argument or as `--option=value`.
fn parse_args(args: Vec<OsString>) -> Result<Command, String> {
    let mut config = None;
    let mut arch = None;
    let mut loader = None;
    let mut kernel = None;
    let mut initfs = None;
    let mut output = None;
    let mut root_dir = None;
    let mut recipes = None;
    let mut cookbook_build = None;
    let mut list_packages = None;
    let mut keep_root = false;
    let mut env_overrides = Vec::new();

    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg.into_string().map_err(|a| format!("option {} is not UTF-8 (try --help)", a.display()))?;
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_owned(), Some(value.into())),
            _ => (arg, None),
        };
        let mut value = || -> Result<OsString, String> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| format!("{name} needs a value (try --help)"))
        };
        let set = |slot: &mut Option<PathBuf>, value: OsString| {
            if slot.replace(value.into()).is_some() {
                return Err(format!("{name} given twice"));
            }
            Ok(())
        };
        if name == "--keep-root" && inline.is_none() {
            keep_root = true;
            continue;
        }
        match name.as_str() {
            "--config" => set(&mut config, value()?)?,
            "--loader" => set(&mut loader, value()?)?,
            "--kernel" => set(&mut kernel, value()?)?,
            "--initfs" => set(&mut initfs, value()?)?,
            "--output" => set(&mut output, value()?)?,
            "--root-dir" => set(&mut root_dir, value()?)?,
            "--recipes" => set(&mut recipes, value()?)?,
            "--cookbook-build" => set(&mut cookbook_build, value()?)?,
            "--list-packages" => set(&mut list_packages, value()?)?,
            "--arch" => {
                let text = value()?.into_string().map_err(|_| "--arch is not UTF-8".to_string())?;
                if arch.replace(text.parse::<Arch>()?).is_some() {
                    return Err("--arch given twice".into());
                }
            }
            "--env" => env_overrides.push(value()?.into_string().map_err(|_| "--env value is not UTF-8".to_string())?),
            other => return Err(format!("unexpected argument `{other}` (try --help)")),
        }
    }

    let recipes = recipes.unwrap_or_else(|| PathBuf::from("cookbook/recipes"));
    if let Some(config) = list_packages {
        if any_given(&[&loader, &kernel, &initfs, &output, &root_dir, &cookbook_build])
            || arch.is_some()
            || !env_overrides.is_empty()
            || keep_root
        {
            return Err("--list-packages takes only --recipes (try --help)".into());
        }
        return Ok(Command::ListPackages { config, recipes });
    }
    let missing = |what: &str| format!("missing {what} (try --help)");
    Ok(Command::Install(Install {
        config: config.ok_or_else(|| missing("--config"))?,
        arch: arch.ok_or_else(|| missing("--arch"))?,
        loader: loader.ok_or_else(|| missing("--loader"))?,
        kernel: kernel.ok_or_else(|| missing("--kernel"))?,
        initfs: initfs.ok_or_else(|| missing("--initfs"))?,
        env_overrides,
        root_dir,
        recipes,
        cookbook_build,
        output: output.ok_or_else(|| missing("--output"))?,
        keep_root,
    }))
}

/// Whether any install-only option was given along with `--list-packages`.
fn any_given(slots: &[&Option<PathBuf>]) -> bool {
    slots.iter().any(|slot| slot.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Install, String> {
        match parse_args(args.iter().map(OsString::from).collect())? {
            Command::Install(install) => Ok(install),
            other => Err(format!("not an install: {other:?}")),
        }
    }

    const FULL: &[&str] = &[
        "--config",
        "c.toml",
        "--arch",
        "aarch64",
        "--loader",
        "l.efi",
        "--kernel",
        "k",
        "--initfs",
        "i",
        "--env",
        "A=1",
        "--env=B=2",
        "--output",
        "out.img",
    ];

    #[test]
    fn parses_every_option() {
        let install = parse(FULL).unwrap();
        assert_eq!(install.config, PathBuf::from("c.toml"));
        assert_eq!(install.arch, Arch::Aarch64);
        assert_eq!(install.loader, PathBuf::from("l.efi"));
        assert_eq!(install.kernel, PathBuf::from("k"));
        assert_eq!(install.initfs, PathBuf::from("i"));
        assert_eq!(install.env_overrides, ["A=1", "B=2"]);
        assert_eq!(install.output, PathBuf::from("out.img"));
        assert_eq!(install.root_dir, None);
        assert_eq!(install.recipes, PathBuf::from("cookbook/recipes"));
        assert_eq!(install.cookbook_build, None);
        let staged =
            parse(&[FULL, &["--root-dir", "stage", "--recipes", "r", "--cookbook-build", "b"]].concat()).unwrap();
        assert_eq!(staged.root_dir, Some(PathBuf::from("stage")));
        assert_eq!(staged.recipes, PathBuf::from("r"));
        assert_eq!(staged.cookbook_build, Some(PathBuf::from("b")));
    }

    #[test]
    fn parses_list_packages() {
        let list = |args: &[&str]| parse_args(args.iter().map(OsString::from).collect());
        assert_eq!(
            list(&["--list-packages", "c.toml"]).unwrap(),
            Command::ListPackages { config: "c.toml".into(), recipes: "cookbook/recipes".into() }
        );
        assert_eq!(
            list(&["--recipes=r", "--list-packages", "c.toml"]).unwrap(),
            Command::ListPackages { config: "c.toml".into(), recipes: "r".into() }
        );
        assert!(list(&["--list-packages", "c.toml", "--output", "o"]).unwrap_err().contains("only --recipes"));
        assert!(list(&["--list-packages", "c.toml", "--arch", "x86_64"]).is_err());
    }

    #[test]
    fn rejects_bad_command_lines() {
        assert!(parse(&FULL[2..]).unwrap_err().contains("--config"));
        assert!(parse(&[FULL, &["--kernel", "k2"]].concat()).unwrap_err().contains("twice"));
        assert!(parse(&[FULL, &["--bogus"]].concat()).unwrap_err().contains("--bogus"));
        assert!(parse(&[FULL, &["--output"]].concat()).unwrap_err().contains("needs a value"));
        let mut riscv = FULL.to_vec();
        riscv[3] = "riscv64";
        assert!(parse(&riscv).unwrap_err().contains("riscv64"));
    }
}
