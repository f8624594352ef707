//! The shell's state — variables, working directory, last status,
//! positional parameters, the console's control handle — and running
//! parsed scripts: `;` lists and `&&` / `||` chains (pipelines are
//! [`crate::exec`]'s).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use tessera_runtime::{eprintln, io, sys};
use tessera_sh::expand::Vars;
use tessera_sh::parser::{self, AndOr, Connector, ParseError, Script};

use crate::exec;

/// `PATH` when the environment has none: the default scheme's `/bin`, then
/// the initfs's.
pub const DEFAULT_PATH: &str = "/usr/bin:/bin:/scheme/initfs/bin";
/// The status of a syntax error.
pub const SYNTAX_STATUS: i32 = 2;

/// A shell variable.
#[derive(Clone, Debug)]
pub struct Var {
    pub value: String,
    /// Passed to the programs the shell starts.
    pub exported: bool,
}

/// Everything the shell keeps between commands.
pub struct Shell {
    vars: BTreeMap<String, Var>,
    /// `$?`: the status of the last pipeline.
    pub status: i32,
    /// `$0`, `$1`, …
    pub args: Vec<String>,
    /// The console's control handle (`fg PID…`), when stdin is the console.
    pub control: Option<usize>,
    /// Set by `exit`: stop running and exit with this.
    pub exit: Option<i32>,
}

impl Shell {
    /// A shell whose variables start as the environment `env` (all
    /// exported), with `PWD`, `PATH` and `HOME` given defaults if missing.
    pub fn new(env: &[&str], args: Vec<String>) -> Self {
        let mut vars = BTreeMap::new();
        for kv in env {
            if let Some((name, value)) = kv.split_once('=') {
                vars.insert(name.to_string(), Var { value: value.into(), exported: true });
            }
        }
        let mut shell = Shell { vars, status: 0, args, control: None, exit: None };
        for (name, default) in [("PWD", "/"), ("PATH", DEFAULT_PATH), ("HOME", "/")] {
            if shell.var(name).is_none() {
                shell.set(name, default.into(), true);
            }
        }
        // A PWD from the environment may be relative or unnormalized.
        let pwd = tessera_sh::path::resolve("/", shell.cwd());
        shell.set("PWD", pwd, true);
        shell
    }

    /// The value of variable `name`.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(|v| v.value.as_str())
    }

    /// Sets `name` to `value`; it stays exported if it was (or becomes so
    /// with `export`).
    pub fn set(&mut self, name: &str, value: String, export: bool) {
        let exported = export || self.vars.get(name).is_some_and(|v| v.exported);
        self.vars.insert(name.into(), Var { value, exported });
    }

    /// Marks `name` exported (an unset name is exported empty, as `export X` does).
    pub fn export(&mut self, name: &str) {
        let entry = self.vars.entry(name.into()).or_insert(Var { value: String::new(), exported: true });
        entry.exported = true;
    }

    pub fn unset(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// The exported variables, `NAME=value`, sorted by name.
    pub fn exported(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().filter(|(_, v)| v.exported).map(|(n, v)| (n.as_str(), v.value.as_str()))
    }

    /// The environment for a program: the exported variables, with
    /// `extra` (`NAME=value` assignments before the command) on top.
    pub fn envp(&self, extra: &[(String, String)]) -> Vec<String> {
        let mut env: Vec<String> = self
            .exported()
            .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        env.extend(extra.iter().map(|(name, value)| format!("{name}={value}")));
        env
    }

    /// The working directory (`$PWD`, absolute and normalized).
    pub fn cwd(&self) -> &str {
        self.var("PWD").unwrap_or("/")
    }

    /// `path` made absolute against the working directory.
    pub fn resolve(&self, path: &str) -> String {
        tessera_sh::path::resolve(self.cwd(), path)
    }

    /// Parses and runs `text`; returns the status of the last pipeline (2
    /// for a syntax error).
    pub fn run_text(&mut self, text: &str) -> i32 {
        match parser::parse(text) {
            Ok(script) => self.run_script(&script),
            Err(ParseError::Incomplete) => self.syntax_error("unexpected end of input"),
            Err(ParseError::Syntax(why)) => self.syntax_error(&why),
        }
    }

    /// Reports a syntax error; sets and returns its status.
    pub fn syntax_error(&mut self, why: &str) -> i32 {
        eprintln!("sh: syntax error: {why}");
        self.status = SYNTAX_STATUS;
        self.status
    }

    /// Runs every list of `script` until one runs `exit`.
    pub fn run_script(&mut self, script: &Script) -> i32 {
        for list in &script.lists {
            self.run_and_or(list);
            if self.exit.is_some() {
                break;
            }
        }
        self.status
    }

    fn run_and_or(&mut self, list: &AndOr) {
        self.status = exec::run_pipeline(self, &list.first);
        for (connector, pipeline) in &list.rest {
            if self.exit.is_some() {
                return;
            }
            let run = match connector {
                Connector::And => self.status == 0,
                Connector::Or => self.status != 0,
            };
            if run {
                self.status = exec::run_pipeline(self, pipeline);
            }
        }
    }

    /// In a forked stage: adds this process to the console's foreground.
    pub fn add_foreground(&self) {
        if let (Some(control), Ok(pid)) = (self.control, sys::getpid()) {
            let _ = io::write_all(control, format!("add {pid}").as_bytes());
        }
    }

    /// Tells the console which processes Ctrl-C interrupts (none: `&[]`).
    pub fn set_foreground(&self, pids: &[usize]) {
        let Some(control) = self.control else { return };
        let mut message = String::from("fg");
        for pid in pids {
            message.push_str(&format!(" {pid}"));
        }
        let _ = io::write_all(control, message.as_bytes());
    }
}

impl Vars for Shell {
    fn get(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.status.to_string()),
            "$" => sys::getpid().ok().map(|pid| pid.to_string()),
            "#" => Some(self.args.len().saturating_sub(1).to_string()),
            "*" | "@" => Some(self.args.get(1..).unwrap_or_default().join(" ")),
            _ if name.len() == 1 && name.as_bytes()[0].is_ascii_digit() => {
                self.args.get(usize::from(name.as_bytes()[0] - b'0')).cloned()
            }
            _ => self.var(name).map(String::from),
        }
    }
}
