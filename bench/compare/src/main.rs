//! `bench-compare`: reads the Linux anchor's output and Tessera's bench log,
//! prints the comparison table (`make bench-compare`, docs/mm.md
//! "Benchmark") and writes it to `--out`.
//!
//! ```text
//! bench-compare --arch ARCH --linux ANCHOR.txt --tessera BENCH.log
//!     --targets bench/targets.txt --tessera-cmd "QEMU COMMAND"
//!     [--date DATE] [--host-cpu MODEL] [--host-load TEXT] [--out FILE]
//! ```
//!
//! `--linux` and `--tessera` may be given several times, once per run
//! (the same number of each): a case's figure is then the median over the
//! runs. The QEMU facts come from the first anchor output.
//!
//! Exit status: 0 when every case was measured on both sides and the two
//! runs had the same QEMU settings (met or missed targets do not change
//! it: this is a measurement), 1 otherwise, 2 for a bad command line or
//! an unreadable file.

use std::process::ExitCode;

use tessera_bench_compare::{
    Header, QemuSettings, anchor_field, complete, parse_results, parse_targets, parse_tessera, render, rows,
};

const USAGE: &str = "usage: bench-compare --arch ARCH --linux ANCHOR.txt --tessera BENCH.log --targets FILE \
                     --tessera-cmd CMD [--date DATE] [--host-cpu MODEL] [--host-load TEXT] [--out FILE]";

#[derive(Default)]
struct Args {
    arch: String,
    linux: Vec<String>,
    tessera: Vec<String>,
    targets: String,
    tessera_cmd: String,
    date: String,
    host_cpu: String,
    host_load: String,
    out: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--arch" => args.arch = value,
            "--linux" => args.linux.push(value),
            "--tessera" => args.tessera.push(value),
            "--targets" => args.targets = value,
            "--tessera-cmd" => args.tessera_cmd = value,
            "--date" => args.date = value,
            "--host-cpu" => args.host_cpu = value,
            "--host-load" => args.host_load = value,
            "--out" => args.out = Some(value),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if args.arch.is_empty() || args.linux.is_empty() || args.tessera.is_empty() || args.targets.is_empty() {
        return Err("--arch, --linux, --tessera and --targets are required".into());
    }
    if args.linux.len() != args.tessera.len() {
        return Err("give --linux and --tessera once per run each".into());
    }
    Ok(args)
}

fn read(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn run() -> Result<bool, (u8, String)> {
    let args = parse_args().map_err(|e| (2, format!("{e}\n{USAGE}")))?;
    let anchors = args.linux.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>().map_err(|e| (2, e))?;
    let tessera_logs = args.tessera.iter().map(|p| read(p)).collect::<Result<Vec<_>, _>>().map_err(|e| (2, e))?;
    let anchor = &anchors[0];
    let targets =
        parse_targets(&read(&args.targets).map_err(|e| (2, e))?).map_err(|e| (2, format!("{}: {e}", args.targets)))?;

    let settings = QemuSettings::parse(anchor_field(anchor, "qemu_cmd").unwrap_or(""));
    let differences = settings.differences(&QemuSettings::parse(&args.tessera_cmd));
    let kernel_line = anchor
        .lines()
        .find_map(|l| l.strip_prefix("# linux-anchor "))
        .map(|l| l.split_whitespace().filter(|w| !w.starts_with("arch=")).collect::<Vec<_>>().join(" "));
    let header = Header {
        arch: args.arch.clone(),
        date: args.date,
        qemu_version: anchor_field(anchor, "qemu").unwrap_or("?").to_owned(),
        settings,
        guest_cpu: anchor_field(anchor, "guest cpu").unwrap_or("?").to_owned(),
        host_cpu: if args.host_cpu.is_empty() { "?".into() } else { args.host_cpu },
        linux_kernel: kernel_line.unwrap_or_else(|| "?".into()),
        linux_mitigations: anchor_field(anchor, "guest meltdown").unwrap_or("?").to_owned(),
        host_load: args.host_load,
        runs: anchors.len(),
    };
    let linux: Vec<_> = anchors.iter().map(|a| parse_results(a)).collect();
    let tessera: Vec<_> = tessera_logs.iter().map(|l| parse_tessera(l)).collect();
    let rows = rows(&targets, &linux, &tessera);
    let text = render(&header, &rows, &differences);
    print!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).map_err(|e| (2, format!("cannot write {out}: {e}")))?;
        println!("# written to {out}");
    }
    if !complete(&rows) {
        eprintln!("bench-compare: a case is missing on one side (see the logs)");
    }
    Ok(complete(&rows) && differences.is_empty())
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err((code, message)) => {
            eprintln!("bench-compare: {message}");
            ExitCode::from(code)
        }
    }
}
