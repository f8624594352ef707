//! `ls [-l] [PATH...]`: lists directories (entries sorted by name, one per
//! line, without `.` and `..`) and names files; the current directory
//! (`$PWD`, else `file:/`) when there is no operand.
//!
//! With `-l` each line is `MODE SIZE NAME`: the kind and permissions
//! (`drwxr-xr-x`, `-rw-r--r--`; `d` directory, `-` file), the size in
//! bytes (0 for ramfs directories) and the name; an entry whose metadata
//! cannot be read shows `?`. With more than one operand, each directory's
//! listing is headed by `PATH:`. The listing comes from `getdents`
//! (`tessera_runtime::fs::read_dir`), the metadata from `fstat`.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;

use coreutils::{Tool, files, path};
use tessera_runtime::{Args, fs, println};

tessera_runtime::entry!(main);

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("ls", "[-l] [PATH...]");
    let parsed = match tool.options(coreutils::operands(&args), "l") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    let long = parsed.has('l');
    let cwd = path::cwd(&args);
    let operands = if parsed.operands.is_empty() { alloc::vec!["."] } else { parsed.operands };
    let headers = operands.len() > 1;
    for (i, operand) in operands.iter().enumerate() {
        let target = path::resolve(cwd, operand);
        let stat = match files::stat(&target) {
            Ok(stat) => stat,
            Err(e) => {
                tool.error(operand, e);
                continue;
            }
        };
        if !files::is_dir(&stat) {
            print_entry(operand, long.then_some(Ok(stat)));
            continue;
        }
        let mut entries = match fs::read_dir(&target) {
            Ok(entries) => entries,
            Err(e) => {
                tool.error(operand, e);
                continue;
            }
        };
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        if headers {
            if i > 0 {
                println!();
            }
            println!("{operand}:");
        }
        let names: Vec<String> = entries.into_iter().map(|(name, _)| name).collect();
        for name in &names {
            print_entry(name, long.then(|| files::stat(&path::join(&target, name))));
        }
    }
    tool.status()
}

/// One line: the name, or with `-l` (`Some`) the mode, size and name.
fn print_entry(name: &str, long: Option<tessera_runtime::Result<tessera_runtime::abi::Stat>>) {
    match long {
        None => println!("{name}"),
        Some(Ok(stat)) => println!("{} {:>9} {name}", files::mode_string(stat.st_mode), stat.st_size),
        Some(Err(_)) => println!("?????????? {:>9} {name}", "?"),
    }
}
