//! `mkinitfs --output FILE DIR`: packs the tree at DIR into an initfs
//! archive at FILE (see the `tessera_initfs` crate doc for the format).
//!
//! The archive is written next to FILE and renamed into place, so FILE is
//! never left half-written. The output is deterministic for a given tree.

use std::path::PathBuf;
use std::process::ExitCode;

use tessera_initfs::{Builder, InitFs};

const USAGE: &str = "usage: mkinitfs --output FILE DIR\n\
    Packs the files and directories under DIR into the initfs archive FILE.";

struct Options {
    output: PathBuf,
    root: PathBuf,
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let (mut output, mut root) = (None, None);
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "-o" | "--output" => {
                output = Some(args.next().ok_or_else(|| format!("{arg} needs a file name"))?);
            }
            _ if arg.starts_with("--output=") => output = Some(arg["--output=".len()..].to_owned()),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ if root.is_none() => root = Some(arg),
            _ => return Err(format!("more than one directory given ({arg:?})")),
        }
    }
    let output = output.ok_or("missing --output FILE")?;
    let root = root.ok_or("missing the directory to pack")?;
    Ok(Some(Options { output: output.into(), root: root.into() }))
}

fn run(options: &Options) -> Result<(), String> {
    if !options.root.is_dir() {
        return Err(format!("{}: not a directory", options.root.display()));
    }
    let builder = Builder::from_dir(&options.root).map_err(|e| e.to_string())?;
    let archive = builder.build();
    // The reader is what the kernel runs: never write something it rejects.
    InitFs::parse(&archive).map_err(|e| format!("internal error: the built archive does not parse: {e}"))?;

    let mut temp = options.output.clone().into_os_string();
    temp.push(".tmp");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, &archive).map_err(|e| format!("{}: {e}", temp.display()))?;
    std::fs::rename(&temp, &options.output).map_err(|e| format!("{}: {e}", options.output.display()))?;
    println!("mkinitfs: {}: {} entries, {} bytes", options.output.display(), builder.len(), archive.len());
    Ok(())
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => match run(&options) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("mkinitfs: error: {message}");
                ExitCode::FAILURE
            }
        },
        Ok(None) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("mkinitfs: error: {message}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}
