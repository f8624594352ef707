//! The builtins: commands the shell runs itself, because they change the
//! shell (`cd`, `export`, `unset`, `exit`) or are too small to be worth a
//! process (`pwd`, `echo`, `true`, `false`, `:`, `help`). Each writes to
//! the fds its [`Stdio`] names (its redirections), never to fd 1 directly.

use alloc::format;
use alloc::string::String;

use tessera_runtime::abi::flag::{O_DIRECTORY, O_RDONLY};
use tessera_runtime::sys;
use tessera_sh::lexer::valid_name;

use crate::exec::{Stdio, write};
use crate::shell::Shell;

/// The builtins' names, in the order `help` lists them.
const NAMES: [&str; 10] = ["cd", "pwd", "export", "unset", "echo", "exit", "help", "true", "false", ":"];

const HELP: &str = "\
Tessera sh: runs programs (found through $PATH) and these builtins:
  cd [DIR]            change the working directory ($PWD; default $HOME)
  pwd                 print the working directory
  export [NAME[=VALUE]...]  export variables to programs (alone: list them)
  unset NAME...       remove variables
  echo [-n] [ARG...]  print the arguments
  exit [N]            leave the shell with status N (default: $?)
  help                this text
  true, false, :      succeed, fail, succeed
Syntax: cmd args; a | b; a && b; a || b; ! a; > file, >> file, < file, 2>&1;
NAME=value; $NAME ${NAME} $? $$ $1; 'literal' \"with $vars\"; # comment
Keys (console): backspace erases, Ctrl-U erases the line, Ctrl-C interrupts,
Ctrl-D on an empty line ends input.";

/// Whether `name` is a builtin.
pub fn is_builtin(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Runs builtin `argv[0]`; returns its status.
pub fn run(shell: &mut Shell, argv: &[String], stdio: Stdio) -> i32 {
    let args: alloc::vec::Vec<&str> = argv.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["cd", rest @ ..] => cd(shell, rest, stdio),
        ["pwd", ..] => {
            write(stdio.output, &format!("{}\n", shell.cwd()));
            0
        }
        ["export", rest @ ..] => export(shell, rest, stdio),
        ["unset", names @ ..] => {
            names.iter().for_each(|name| shell.unset(name));
            0
        }
        ["echo", rest @ ..] => {
            let (newline, words) = match rest {
                ["-n", words @ ..] => (false, words),
                words => (true, words),
            };
            let mut text = words.join(" ");
            if newline {
                text.push('\n');
            }
            write(stdio.output, &text);
            0
        }
        ["exit"] => {
            shell.exit = Some(shell.status);
            shell.status
        }
        ["exit", code] => match code.parse::<i32>() {
            Ok(code) => {
                shell.exit = Some(code & 0xFF);
                code & 0xFF
            }
            Err(_) => {
                write(stdio.error, &format!("sh: exit: {code}: not a number\n"));
                2
            }
        },
        ["exit", ..] => {
            write(stdio.error, "sh: exit: too many arguments\n");
            2
        }
        ["help", ..] => {
            write(stdio.output, HELP);
            write(stdio.output, "\n");
            0
        }
        ["true", ..] | [":", ..] => 0,
        ["false", ..] => 1,
        _ => 127,
    }
}

/// `cd [DIR]`: DIR (default `$HOME`) must be a directory that opens.
fn cd(shell: &mut Shell, args: &[&str], stdio: Stdio) -> i32 {
    let target = match args {
        [] => shell.var("HOME").unwrap_or("/").into(),
        [dir] => String::from(*dir),
        _ => {
            write(stdio.error, "sh: cd: too many arguments\n");
            return 2;
        }
    };
    let path = shell.resolve(&target);
    match sys::open(&path, O_RDONLY | O_DIRECTORY) {
        Ok(fd) => {
            let _ = sys::close(fd);
            shell.set("PWD", path, true);
            0
        }
        Err(e) => {
            write(stdio.error, &format!("sh: cd: {target}: {e}\n"));
            1
        }
    }
}

/// `export NAME[=VALUE]...`, or alone: the exported variables.
fn export(shell: &mut Shell, args: &[&str], stdio: Stdio) -> i32 {
    if args.is_empty() {
        let mut text = String::new();
        for (name, value) in shell.exported() {
            text.push_str(&format!("export {name}='{value}'\n"));
        }
        write(stdio.output, &text);
        return 0;
    }
    let mut status = 0;
    for arg in args {
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (*arg, None),
        };
        if !valid_name(name) {
            write(stdio.error, &format!("sh: export: {name}: not a valid name\n"));
            status = 1;
            continue;
        }
        match value {
            Some(value) => shell.set(name, value.into(), true),
            None => shell.export(name),
        }
    }
    status
}
