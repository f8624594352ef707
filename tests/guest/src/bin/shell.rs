//! `shell`: the shell (`initfs:bin/sh`) driven non-interactively, both
//! ways a script reaches it, and its output checked line by line.
//!
//! | run | how |
//! |---|---|
//! | script file | [`SCRIPT`] written to `file:/shell-test/file/script.sh`, run as `sh script.sh a b` with `PWD` there |
//! | pipe | the same text written into a pipe that is `sh`'s stdin (no arguments), `PWD` in its own directory |
//!
//! Both get stdout and stderr on one pipe, the environment `PATH` (the
//! initfs's `bin`) and `PWD`, and must print [`EXPECTED`] (a `*` in an
//! expected line matches any text: pids, sizes) and exit with 3 (`exit 3`;
//! the line after it must not run). The script covers redirections
//! (`>`, `>>`, `<`, `2>`, `2>&1`), pipelines, `$?`, `;`, `&&`, `||`, `!`,
//! `cd`/`pwd`, `export` and `$VAR` (a child `sh -c` sees exported
//! variables only), quoting, positional parameters, and the core tools
//! `ls`, `cat`, `ps`, `pmap`, `free` (programs/coreutils).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use tessera_guest_tests::Checks;
use tessera_guest_tests::system::{fork_with, reap};
use tessera_runtime::abi::flag::{O_CREAT, O_TRUNC, O_WRONLY};
use tessera_runtime::{Args, io, println, sys};

tessera_runtime::entry!(main);

/// Where the runs work (on the default scheme, `file:`).
const ROOT: &str = "/shell-test";
/// The shell.
const SH: &str = "initfs:bin/sh";

/// What both runs execute. `$1` is `a` for the script run, empty for the
/// pipe run (so its lines differ only there).
const SCRIPT: &str = r#"# comments and blank lines are skipped

echo one > f; echo two >> f
cat < f
cat f | cat | cat
echo pipeline=$?
false; echo false=$?
! true; echo negated=$?
false || echo or-ran; true && echo and-ran; false && echo and-skipped
frobnicate 2> err; echo missing=$?
cat err
cat missing-file 2>&1 | cat
pwd; mkdir sub; cd sub; pwd; cd ..; pwd
export SHELL_TEST_VAR=exported; LOCAL=unexported
sh -c 'echo child=$SHELL_TEST_VAR local=$LOCAL'
ONE_SHOT=yes sh -c 'echo one-shot=$ONE_SHOT'; echo after=$ONE_SHOT
echo "double $LOCAL" 'single $LOCAL' \$escaped ${LOCAL}-braces
echo args=$# first=$1
ls
ps > ps.out; cat ps.out | cat > ps2.out; ls -l ps2.out
cat ps.out
pmap $$ > pmap.out; echo pmap=$?
cat pmap.out
free > free.out; echo free=$?
cat free.out
exit 3
echo not-reached
"#;

/// What both runs print: `{dir}` is the run's directory, `{args}` the
/// `$#`/`$1` line, `{listing}` what `ls` shows; `*` matches any text
/// within a line; `...` any number of lines before the next pattern.
const EXPECTED: &[&str] = &[
    "one",
    "two",
    "one",
    "two",
    "pipeline=0",
    "false=1",
    "negated=1",
    "or-ran",
    "and-ran",
    "missing=127",
    "sh: frobnicate: not found",
    "*missing-file*",
    "{dir}",
    "{dir}/sub",
    "{dir}",
    "child=exported local=",
    "one-shot=yes",
    "after=",
    "double unexported single $LOCAL $escaped unexported-braces",
    "{args}",
    "{listing}",
    "-* ps2.out",
    "  PID  PPID STATE*NAME",
    "...",
    "* sh",
    "* ps",
    "pmap=0",
    "*: sh",
    "...",
    "total *",
    "free=0",
    "KiB*total*used*free",
    "Mem:*",
    "Kheap:*",
];

fn main(_args: Args) -> i32 {
    let mut checks = Checks::new("shell");
    let _ = sys::mkdir(ROOT);
    for (mode, dir) in [("file", format!("{ROOT}/file")), ("pipe", format!("{ROOT}/pipe"))] {
        if let Err(e) = sys::mkdir(&dir) {
            checks.check(&format!("{mode}: mkdir {dir}"), false, format_args!("{e}"));
            continue;
        }
        let env = [String::from("PATH=/scheme/initfs/bin"), format!("PWD={dir}")];
        let run = if mode == "file" {
            let script = format!("{dir}/script.sh");
            if let Err(e) = write_file(&script, SCRIPT) {
                checks.check("file: write the script", false, format_args!("{e}"));
                continue;
            }
            run_sh(&["sh", "script.sh", "a", "b"], &env, None)
        } else {
            run_sh(&["sh"], &env, Some(SCRIPT))
        };
        let Some((status, output)) = run else {
            checks.check(&format!("{mode}: run sh"), false, format_args!("could not start it"));
            continue;
        };
        for line in output.lines() {
            println!("shell: {mode} | {line}");
        }
        checks.check(&format!("{mode}: exit 3 ends the shell with 3"), status == Some(3), format_args!("{status:?}"));
        let listing = if mode == "file" { "err\nf\nscript.sh\nsub" } else { "err\nf\nsub" };
        let args = if mode == "file" { "args=2 first=a" } else { "args=0 first=" };
        let expected: Vec<String> = EXPECTED
            .iter()
            .map(|line| line.replace("{dir}", &dir).replace("{args}", args).replace("{listing}", listing))
            .collect();
        let expected: Vec<&str> = expected.iter().flat_map(|l| l.lines()).collect();
        let got: Vec<&str> = output.lines().collect();
        match compare(&expected, &got) {
            Ok(()) => checks.check(&format!("{mode}: the output"), true, format_args!("")),
            Err(why) => checks.check(&format!("{mode}: the output"), false, format_args!("{why}")),
        }
    }
    checks.finish()
}

/// Writes `text` to the file `path`.
fn write_file(path: &str, text: &str) -> tessera_runtime::Result<()> {
    let fd = sys::open(path, O_WRONLY | O_CREAT | O_TRUNC)?;
    let result = io::write_all(fd, text.as_bytes());
    let _ = sys::close(fd);
    result
}

/// Runs the shell with `argv` and `env`, stdout and stderr on one pipe,
/// stdin the text `input` (through a pipe) if given; returns its exit code
/// and output. `None` if it could not be started.
fn run_sh(argv: &[&str], env: &[String], input: Option<&str>) -> Option<(Option<usize>, String)> {
    let [out_r, out_w] = sys::pipe2(0).ok()?;
    let stdin = match input {
        Some(_) => Some(sys::pipe2(0).ok()?),
        None => None,
    };
    let envp: Vec<&str> = env.iter().map(String::as_str).collect();
    let pid = fork_with(|| {
        let _ = sys::close(out_r);
        if let Some([r, w]) = stdin {
            let _ = sys::close(w);
            if sys::dup2(r, 0).is_err() {
                return 2;
            }
            let _ = sys::close(r);
        }
        if sys::dup2(out_w, 1).is_err() || sys::dup2(out_w, 2).is_err() {
            return 2;
        }
        let _ = sys::close(out_w);
        let error = sys::execve(SH, argv, &envp);
        println!("shell: cannot execute {SH}: {error}");
        2
    })
    .ok()?;
    let _ = sys::close(out_w);
    if let (Some([r, w]), Some(text)) = (stdin, input) {
        let _ = sys::close(r);
        // The script is far below a pipe's capacity: this cannot block on
        // a shell that does not read.
        let _ = io::write_all(w, text.as_bytes());
        let _ = sys::close(w);
    }
    let mut output = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = sys::read(out_r, &mut buf) {
        if n == 0 {
            break;
        }
        output.extend_from_slice(&buf[..n]);
    }
    let _ = sys::close(out_r);
    let status = reap(pid).ok().and_then(|(_, status)| status.code());
    Some((status, String::from_utf8_lossy(&output).into_owned()))
}

/// Matches `got` against `expected` (see [`EXPECTED`]); the first
/// difference as text.
fn compare(expected: &[&str], got: &[&str]) -> Result<(), String> {
    let mut at = 0;
    let mut skipping = false;
    for pattern in expected {
        if *pattern == "..." {
            skipping = true;
            continue;
        }
        loop {
            let Some(line) = got.get(at) else {
                return Err(format!("missing {pattern:?} at line {}", at + 1));
            };
            at += 1;
            if matches(pattern, line) {
                break;
            }
            if !skipping {
                return Err(format!("line {at}: expected {pattern:?}, got {line:?}"));
            }
        }
        skipping = false;
    }
    if !skipping && at < got.len() {
        return Err(format!("unexpected line {}: {:?}", at + 1, got[at]));
    }
    Ok(())
}

/// `pattern` with `*` matching any text.
fn matches(pattern: &str, line: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = line.strip_prefix(first) else { return false };
    let pieces: Vec<&str> = pieces.collect();
    for (i, piece) in pieces.iter().enumerate() {
        if i + 1 == pieces.len() {
            return rest.ends_with(piece);
        }
        match rest.find(piece) {
            Some(found) => rest = &rest[found + piece.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}
