//! mmbench on Linux and on Tessera, side by side: the parsing and the table
//! of `make bench-compare` (docs/mm.md, "Benchmark").
//!
//! Inputs are text, so everything here is tested on fixture logs without
//! QEMU:
//! - the Linux anchor's output (`bench/linux-anchor/run.sh`): `# qemu: …`,
//!   `# qemu_cmd: …`, `# guest cpu: …` and `# linux-anchor …` comments, and
//!   one `<case> <iterations> <ns_per_op>` line per case;
//! - Tessera's bench console log (the boot-test harness's
//!   `[   1234 ms] text` lines), where mmbench-c prints the same
//!   `<case> <iterations> <ns_per_op>` lines;
//! - the targets file (`bench/targets.txt`): `<case> <target>` lines, or
//!   `<case> (root) <target>` for a row whose Tessera figure is the case's
//!   on the root filesystem: the mmbench-c run the log starts with
//!   `# mmbench 2 … file=/mmbench.dat` (pages from redoxfsd's page cache;
//!   the first run has its file on ramfs). Linux's figure is the same
//!   case's (its file is on tmpfs).
//!
//! With several runs per side (`runs=N`), a side's figure for a case is
//! the median over its runs, and each run's figures are listed under the
//! table.
//!
//! The ratio is Tessera / Linux (ns per op); a case meets its target when
//! the ratio is at most the target. A case missing on either side is
//! reported as such (and makes the tool exit non-zero): a run that did not
//! finish is not a measurement.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// The data file of the mmbench-c run on the root filesystem (redoxfsd).
pub const ROOT_FILE: &str = "/mmbench.dat";

/// The qualifier of a row measured on the root filesystem.
pub const ROOT_RUN: &str = "(root)";

/// One line of the targets file: the most `case` may cost on Tessera, as a
/// fraction of Linux's ns/op.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    pub case: String,
    /// Measured on the root filesystem (`<case> (root) <target>`).
    pub root: bool,
    /// As written in the file (printed as is).
    pub text: String,
    pub ratio: f64,
}

/// What is wrong with an input.
#[derive(Debug, PartialEq)]
pub enum Error {
    /// Targets file line (1-based) and what is wrong with it.
    Target(usize, &'static str),
    /// The targets file names no case.
    NoTargets,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Target(line, what) => write!(f, "targets line {line}: {what}"),
            Error::NoTargets => write!(f, "the targets file names no case"),
        }
    }
}

impl std::error::Error for Error {}

/// Parses the targets file: `<case> <target>` per line, `#` comments and
/// blank lines skipped; a case may appear once, a target is a finite
/// number > 0.
pub fn parse_targets(text: &str) -> Result<Vec<Target>, Error> {
    let mut targets: Vec<Target> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let number = index + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        let (case, root, value) = match words[..] {
            [case, value] => (case, false, value),
            [case, ROOT_RUN, value] => (case, true, value),
            [_, _, _] => return Err(Error::Target(number, "the run qualifier can only be `(root)`")),
            _ => return Err(Error::Target(number, "expected `<case> <target>` or `<case> (root) <target>`")),
        };
        if !is_case_name(case) {
            return Err(Error::Target(number, "a case name is lower-case letters, digits and `_`"));
        }
        let ratio: f64 = value.parse().map_err(|_| Error::Target(number, "the target is not a number"))?;
        if !ratio.is_finite() || ratio <= 0.0 {
            return Err(Error::Target(number, "the target must be a number > 0"));
        }
        if targets.iter().any(|t| t.case == case && t.root == root) {
            return Err(Error::Target(number, "case listed twice"));
        }
        targets.push(Target { case: case.to_owned(), root, text: value.to_owned(), ratio });
    }
    if targets.is_empty() { Err(Error::NoTargets) } else { Ok(targets) }
}

impl Target {
    /// The row's name, and its key in a Tessera result map: the case, with
    /// ` (root)` for the root filesystem's run.
    pub fn row_name(&self) -> String {
        if self.root { format!("{} {ROOT_RUN}", self.case) } else { self.case.clone() }
    }
}

fn is_case_name(word: &str) -> bool {
    !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && word.bytes().any(|b| b.is_ascii_lowercase())
}

/// The text of a log line without the harness's `[   1234 ms] ` prefix
/// (lines without it are returned as they are).
pub fn strip_harness_prefix(line: &str) -> &str {
    let line = line.trim_end_matches('\r');
    if let Some(rest) = line.strip_prefix('[')
        && let Some((stamp, text)) = rest.split_once("] ")
        && let Some(ms) = stamp.trim_start().strip_suffix(" ms")
        && !ms.is_empty()
        && ms.bytes().all(|b| b.is_ascii_digit())
    {
        return text;
    }
    line
}

/// The `<case> <iterations> <ns_per_op>` result lines of a log (either
/// side's), case -> ns/op; the first line of a case counts. Comment lines,
/// other programs' lines and malformed lines are skipped.
pub fn parse_results(log: &str) -> BTreeMap<String, u64> {
    let mut results = BTreeMap::new();
    for line in log.lines().map(strip_harness_prefix) {
        let words: Vec<&str> = line.split(' ').collect();
        let [case, iterations, ns] = words[..] else { continue };
        if !is_case_name(case) {
            continue;
        }
        let (Ok(_), Ok(ns)) = (iterations.parse::<u64>(), ns.parse::<u64>()) else { continue };
        results.entry(case.to_owned()).or_insert(ns);
    }
    results
}

/// Tessera's results: [`parse_results`] of the whole log (the first
/// mmbench-c run's figure of each case), plus `<case> (root)` for each case
/// of the run on the root filesystem, the one that starts with a
/// `# mmbench 2 … file=/mmbench.dat` line and ends at the next
/// `# mmbench 2` line (or the log's end).
pub fn parse_tessera(log: &str) -> BTreeMap<String, u64> {
    let mut results = parse_results(log);
    let mut root_run = String::new();
    let mut inside = false;
    for line in log.lines().map(strip_harness_prefix) {
        if line.starts_with("# mmbench 2 ") {
            inside = line.split(' ').any(|word| word.strip_prefix("file=") == Some(ROOT_FILE));
            continue;
        }
        if inside {
            root_run.push_str(line);
            root_run.push('\n');
        }
    }
    for (case, ns) in parse_results(&root_run) {
        results.insert(format!("{case} {ROOT_RUN}"), ns);
    }
    results
}

/// The value of the first `# <key>: value` comment in the anchor's output.
pub fn anchor_field<'a>(log: &'a str, key: &str) -> Option<&'a str> {
    log.lines().find_map(|line| {
        let rest = line.strip_prefix("# ")?.strip_prefix(key)?.strip_prefix(':')?;
        Some(rest.trim())
    })
}

/// The settings the comparison must share, read from a QEMU command line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QemuSettings {
    pub binary: String,
    pub machine: Option<String>,
    pub cpu: Option<String>,
    pub smp: Option<String>,
    pub mem: Option<String>,
}

impl QemuSettings {
    /// Parses `qemu-system-… -M q35 -cpu qemu64 -smp 2 -m 512M …`
    /// (`-machine` is `-M`). The machine is compared without `acpi=…`:
    /// a kernel booted with `-kernel` gets a device tree either way.
    pub fn parse(command: &str) -> QemuSettings {
        let words: Vec<&str> = command.split_whitespace().collect();
        let mut settings =
            QemuSettings { binary: words.first().map(|w| w.to_string()).unwrap_or_default(), ..Default::default() };
        for pair in words.windows(2) {
            let value = Some(pair[1].to_owned());
            match pair[0] {
                "-M" | "-machine" => settings.machine = value,
                "-cpu" => settings.cpu = value,
                "-smp" => settings.smp = value,
                "-m" => settings.mem = value,
                _ => {}
            }
        }
        settings
    }

    /// The machine without `acpi=…` options.
    fn machine_compared(&self) -> Option<String> {
        self.machine.as_ref().map(|m| m.split(',').filter(|o| !o.starts_with("acpi=")).collect::<Vec<_>>().join(","))
    }

    /// What differs between two runs' settings, one phrase each; empty
    /// when the comparison is fair.
    pub fn differences(&self, other: &QemuSettings) -> Vec<String> {
        let mut out = Vec::new();
        let base = |b: &str| b.rsplit('/').next().unwrap_or(b).to_owned();
        let pairs = [
            ("QEMU binary", Some(base(&self.binary)), Some(base(&other.binary))),
            ("machine", self.machine_compared(), other.machine_compared()),
            ("-cpu", self.cpu.clone(), other.cpu.clone()),
            ("-smp", self.smp.clone(), other.smp.clone()),
            ("-m", self.mem.clone(), other.mem.clone()),
        ];
        for (what, a, b) in pairs {
            if a != b {
                out.push(format!(
                    "{what}: {} vs {}",
                    a.as_deref().unwrap_or("(none)"),
                    b.as_deref().unwrap_or("(none)")
                ));
            }
        }
        out
    }
}

/// One case of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub target: Target,
    /// The median of `linux_runs` (`None` if no run measured it).
    pub linux: Option<u64>,
    pub tessera: Option<u64>,
    /// Each run's figure, in run order (runs without the case left out).
    pub linux_runs: Vec<u64>,
    pub tessera_runs: Vec<u64>,
}

impl Row {
    /// Tessera / Linux, when both were measured (and Linux's is not 0).
    pub fn ratio(&self) -> Option<f64> {
        match (self.linux, self.tessera) {
            (Some(l), Some(t)) if l > 0 => Some(t as f64 / l as f64),
            _ => None,
        }
    }

    /// Whether the ratio (rounded as printed, to 2 decimals) is within
    /// the target; `None` if a side is missing.
    pub fn met(&self) -> Option<bool> {
        self.ratio().map(|r| round2(r) <= self.target.ratio + 1e-9)
    }
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The median of `values` (the lower of the middle two for an even count),
/// `None` if there are none.
pub fn median(values: &[u64]) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len().saturating_sub(1) / 2).copied()
}

/// The rows, in the targets file's order, from each side's runs (one
/// result map per run); a side's figure is the median over its runs. A
/// root row takes Linux's figure of its case and Tessera's of
/// `<case> (root)` ([`parse_tessera`]).
pub fn rows(targets: &[Target], linux: &[BTreeMap<String, u64>], tessera: &[BTreeMap<String, u64>]) -> Vec<Row> {
    let figures = |runs: &[BTreeMap<String, u64>], case: &str| -> Vec<u64> {
        runs.iter().filter_map(|run| run.get(case).copied()).collect()
    };
    targets
        .iter()
        .map(|t| {
            let linux_runs = figures(linux, &t.case);
            let tessera_runs = figures(tessera, &t.row_name());
            Row {
                target: t.clone(),
                linux: median(&linux_runs),
                tessera: median(&tessera_runs),
                linux_runs,
                tessera_runs,
            }
        })
        .collect()
}

/// The facts printed above the table.
#[derive(Clone, Debug, Default)]
pub struct Header {
    pub arch: String,
    pub date: String,
    pub qemu_version: String,
    pub settings: QemuSettings,
    /// What the anchor's guest kernel reported (`/proc/cpuinfo`).
    pub guest_cpu: String,
    pub host_cpu: String,
    pub linux_kernel: String,
    /// The Linux guest's view of its CPU's vulnerabilities (`# guest
    /// meltdown: …` of the anchor): with `Meltdown: Not affected` it runs
    /// without page-table isolation, which Tessera on x86_64 always does.
    pub linux_mitigations: String,
    /// The host's load when each run started (free text, e.g. the 1-minute
    /// load averages): TCG timings depend on it.
    pub host_load: String,
    /// How many times each side ran (the table's figures are medians over
    /// the runs when more than one).
    pub runs: usize,
}

/// Nanoseconds with thousands separators: 1234567 -> `1,234,567`.
pub fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The report: `#` lines with the run's facts, a Markdown table (case,
/// Linux ns/op, Tessera ns/op, ratio, target, met), and a `#` summary
/// line.
pub fn render(header: &Header, rows: &[Row], differences: &[String]) -> String {
    let mut out = String::new();
    let s = &header.settings;
    let na = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
    // Writing to a String cannot fail.
    let _ = writeln!(out, "# bench-compare arch={} date={}", header.arch, header.date);
    let _ = writeln!(out, "# qemu: {}", header.qemu_version);
    let _ = writeln!(
        out,
        "# qemu settings (both runs): -M {} -cpu {} -smp {} -m {} (TCG)",
        na(&s.machine),
        na(&s.cpu),
        na(&s.smp),
        na(&s.mem)
    );
    for d in differences {
        let _ = writeln!(out, "# WARNING: the runs differ in {d}");
    }
    let _ = writeln!(
        out,
        "# cpu model: {} (QEMU -cpu {}); guest /proc/cpuinfo: {}",
        header.host_cpu,
        na(&s.cpu),
        header.guest_cpu
    );
    let _ = writeln!(out, "# linux: {}", header.linux_kernel);
    if !header.linux_mitigations.is_empty() {
        let _ = writeln!(out, "# linux guest meltdown: {}", header.linux_mitigations);
    }
    if !header.host_load.is_empty() {
        let _ = writeln!(out, "# host load average at each run's start: {}", header.host_load);
    }
    if header.runs > 1 {
        let _ = writeln!(
            out,
            "# runs: {} per side, alternating Linux and Tessera; each figure is the median over the runs",
            header.runs
        );
    }
    let _ = writeln!(out, "# ratio = Tessera / Linux (ns per op, lower is better for Tessera); met: ratio <= target");
    let _ = writeln!(out, "| case | Linux ns/op | Tessera ns/op | ratio | target | met |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
    let mut met = 0;
    for row in rows {
        let ns = |v: Option<u64>| v.map(group_thousands).unwrap_or_else(|| "missing".into());
        let ratio = row.ratio().map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into());
        let verdict = match row.met() {
            Some(true) => {
                met += 1;
                "yes"
            }
            Some(false) => "no",
            None => "no (not measured)",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ratio} | ≤ {} | {verdict} |",
            row.target.row_name(),
            ns(row.linux),
            ns(row.tessera),
            row.target.text
        );
    }
    let _ = writeln!(out, "# targets met: {met} of {}", rows.len());
    if header.runs > 1 {
        let list = |v: &[u64]| {
            if v.is_empty() { "-".into() } else { v.iter().map(|n| group_thousands(*n)).collect::<Vec<_>>().join(" ") }
        };
        for row in rows {
            let _ = writeln!(
                out,
                "# runs {}: linux {} | tessera {}",
                row.target.row_name(),
                list(&row.linux_runs),
                list(&row.tessera_runs)
            );
        }
    }
    out
}

/// Whether every case was measured on both sides.
pub fn complete(rows: &[Row]) -> bool {
    rows.iter().all(|r| r.linux.is_some() && r.tessera.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANCHOR: &str = include_str!("../tests/fixtures/linux-anchor-x86_64.txt");
    const TESSERA: &str = include_str!("../tests/fixtures/tessera-bench-x86_64.log");
    const TARGETS: &str = include_str!("../../targets.txt");
    /// Both mmbench-c runs of a bench log: ramfs, then the root (redoxfsd
    /// before its page cache was kept between mappings).
    const TESSERA_ROOT: &str = include_str!("../tests/fixtures/tessera-bench-root-x86_64.log");

    #[test]
    fn project_targets_file_parses_with_the_ten_rows() {
        let targets = parse_targets(TARGETS).expect("bench/targets.txt parses");
        let cases: Vec<String> = targets.iter().map(|t| t.row_name()).collect();
        assert_eq!(
            cases,
            [
                "file_mmap_read_4m",
                "file_mmap_shared_write_4m",
                "mprotect_toggle",
                "fault_anon",
                "mmap_touch_unmap_1m",
                "munmap_partial",
                "fork_cow_16m",
                "mmap_munmap_4k",
                "file_mmap_read_4m (root)",
                "file_mmap_shared_write_4m (root)"
            ]
        );
        assert_eq!(targets[0].ratio, 0.7);
        assert_eq!((targets[8].root, targets[8].ratio), (true, 1.0));
        assert_eq!(targets[6].text, "0.5");
    }

    #[test]
    fn bad_targets_are_errors_with_the_line() {
        assert_eq!(parse_targets("# only a comment\n\n"), Err(Error::NoTargets));
        assert_eq!(
            parse_targets("a 0.3\nb\n"),
            Err(Error::Target(2, "expected `<case> <target>` or `<case> (root) <target>`"))
        );
        assert_eq!(parse_targets("a (tmp) 1\n"), Err(Error::Target(1, "the run qualifier can only be `(root)`")));
        assert_eq!(parse_targets("a (root) 1\na (root) 2\n"), Err(Error::Target(2, "case listed twice")));
        assert_eq!(parse_targets("a 1\na (root) 2\n").map(|t| t[1].row_name()), Ok("a (root)".into()));
        assert_eq!(parse_targets("a x\n"), Err(Error::Target(1, "the target is not a number")));
        assert_eq!(parse_targets("a 0\n"), Err(Error::Target(1, "the target must be a number > 0")));
        assert_eq!(parse_targets("a NaN\n"), Err(Error::Target(1, "the target must be a number > 0")));
        assert_eq!(parse_targets("a 1\na 2\n"), Err(Error::Target(2, "case listed twice")));
        assert!(matches!(parse_targets("Bad-Name 1\n"), Err(Error::Target(1, _))));
        assert_eq!(parse_targets("a 0.3 # trailing comment\n").map(|t| t.len()), Ok(1));
    }

    #[test]
    fn harness_prefix_is_stripped_only_when_well_formed() {
        assert_eq!(strip_harness_prefix("[   1234 ms] fault_anon 81920 5000"), "fault_anon 81920 5000");
        assert_eq!(strip_harness_prefix("[      7 ms] (qemu) x"), "(qemu) x");
        assert_eq!(strip_harness_prefix("[x ms] y"), "[x ms] y");
        assert_eq!(strip_harness_prefix("fault_anon 1 2\r"), "fault_anon 1 2");
    }

    #[test]
    fn anchor_results_and_facts() {
        let linux = parse_results(ANCHOR);
        assert_eq!(linux.len(), 8);
        assert_eq!(linux["mmap_munmap_4k"], 22484);
        assert_eq!(linux["file_mmap_shared_write_4m"], 5181987);
        assert_eq!(anchor_field(ANCHOR, "qemu").map(|q| q.starts_with("QEMU emulator version")), Some(true));
        let cmd = anchor_field(ANCHOR, "qemu_cmd").expect("qemu_cmd line");
        let s = QemuSettings::parse(cmd);
        assert_eq!(s.cpu.as_deref(), Some("qemu64"));
        assert_eq!(s.smp.as_deref(), Some("2"));
        assert_eq!(s.mem.as_deref(), Some("512M"));
        assert_eq!(s.machine.as_deref(), Some("q35"));
    }

    #[test]
    fn tessera_results_come_from_mmbench_c_lines_only() {
        let tessera = parse_results(TESSERA);
        // The Rust mmbench's `# fault_anon rounds=…` comment and `mmbench:`
        // lines are not results; mmbench-c's eight lines are.
        assert_eq!(tessera.len(), 8, "{tessera:?}");
        assert_eq!(tessera["fault_anon"], 4012);
        assert!(!tessera.contains_key("cow_fault"));
    }

    #[test]
    fn root_rows_take_the_root_run_and_linux_s_same_case() {
        let tessera = parse_tessera(TESSERA_ROOT);
        // The ramfs run's figures stay the plain cases'.
        assert_eq!(tessera["file_mmap_read_4m"], 7651122);
        assert_eq!(tessera["fault_anon"], 5958);
        assert_eq!(tessera["file_mmap_read_4m (root)"], 379463034);
        assert_eq!(tessera["file_mmap_shared_write_4m (root)"], 997269114);
        assert_eq!(tessera["fault_anon (root)"], 5770);
        let targets = parse_targets("file_mmap_read_4m 0.7\nfile_mmap_read_4m (root) 1.0\n").expect("targets");
        let rows = rows(&targets, &[parse_results(ANCHOR)], &[tessera]);
        assert_eq!((rows[0].linux, rows[0].tessera), (Some(1711816), Some(7651122)));
        assert_eq!((rows[1].linux, rows[1].tessera), (Some(1711816), Some(379463034)));
        let text = render(&Header::default(), &rows, &[]);
        assert!(
            text.contains("| file_mmap_read_4m (root) | 1,711,816 | 379,463,034 | 221.67 | ≤ 1.0 | no |\n"),
            "{text}"
        );
        // A log without the root run (or with another file) has no root
        // figures: the row is missing, not taken from the ramfs run.
        let ramfs_only = parse_tessera(TESSERA);
        assert!(!ramfs_only.contains_key("file_mmap_read_4m (root)"));
        let other = "# mmbench 2 page=4096 file=/mmbench.dat.old\nfile_mmap_read_4m 1 5\n";
        assert!(!parse_tessera(other).contains_key("file_mmap_read_4m (root)"));
        let rows = super::rows(&targets, &[parse_results(ANCHOR)], &[ramfs_only]);
        assert_eq!(rows[1].tessera, None);
        assert!(!complete(&rows));
        // The root run ends at the next run's line.
        let two = "# mmbench 2 file=/mmbench.dat\nfault_anon 1 7\n# mmbench 2 file=/x\nmprotect_toggle 1 9\n";
        let parsed = parse_tessera(two);
        assert_eq!(parsed.get("fault_anon (root)"), Some(&7));
        assert_eq!(parsed.get("mprotect_toggle (root)"), None);
    }

    #[test]
    fn first_result_of_a_case_counts_and_junk_is_skipped() {
        let log = "fault_anon 10 100\nfault_anon 10 999\nfoo 1\nbar x 3\n# baz 1 2\n1 2 3\nqux 1 2 3\n";
        let r = parse_results(log);
        assert_eq!(r.len(), 1);
        assert_eq!(r["fault_anon"], 100);
    }

    #[test]
    fn ratio_and_met() {
        let t = Target { case: "c".into(), root: false, text: "0.3".into(), ratio: 0.3 };
        let row = |l: Option<u64>, te: Option<u64>| Row {
            target: t.clone(),
            linux: l,
            tessera: te,
            linux_runs: l.into_iter().collect(),
            tessera_runs: te.into_iter().collect(),
        };
        assert_eq!(row(Some(1000), Some(300)).met(), Some(true));
        // 0.304 prints as 0.30: met, as printed.
        assert_eq!(row(Some(1000), Some(304)).met(), Some(true));
        assert_eq!(row(Some(1000), Some(306)).met(), Some(false));
        assert_eq!(row(Some(1000), None).met(), None);
        assert_eq!(row(Some(0), Some(5)).ratio(), None);
        assert!(!complete(&[row(None, Some(1))]));
        assert!(complete(&[row(Some(1), Some(1))]));
    }

    #[test]
    fn settings_differences() {
        let a =
            QemuSettings::parse("/usr/bin/qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a76 -smp 2 -m 512M");
        let b = QemuSettings::parse(
            "qemu-system-aarch64 -machine virt,acpi=off,gic-version=3 -accel tcg -cpu cortex-a76 -smp 2 -m 512M -bios x",
        );
        assert_eq!(a.differences(&b), Vec::<String>::new());
        let c = QemuSettings::parse("qemu-system-aarch64 -machine virt -cpu cortex-a72 -smp 1 -m 512M");
        assert_eq!(
            a.differences(&c),
            ["machine: virt,gic-version=3 vs virt", "-cpu: cortex-a76 vs cortex-a72", "-smp: 2 vs 1"]
        );
    }

    #[test]
    fn table_from_fixtures() {
        let targets = parse_targets(TARGETS).expect("targets");
        let rows = rows(&targets, &[parse_results(ANCHOR)], &[parse_results(TESSERA)]);
        let header = Header {
            arch: "x86_64".into(),
            date: "2026-12-05T20:00:00Z".into(),
            qemu_version: "QEMU emulator version 7.2.22".into(),
            settings: QemuSettings::parse("qemu-system-x86_64 -M q35 -cpu qemu64 -smp 2 -m 512M"),
            guest_cpu: "model name : QEMU Virtual CPU version 2.5+".into(),
            host_cpu: "Some CPU".into(),
            linux_kernel: "linux-image-6.1.0-28-amd64 6.1.119-1".into(),
            host_load: "linux 3.1, tessera 4.2".into(),
            linux_mitigations: anchor_field(ANCHOR, "guest meltdown").unwrap_or("").into(),
            runs: 1,
        };
        let text = render(&header, &rows, &[]);
        assert!(text.contains("# bench-compare arch=x86_64 date=2026-12-05T20:00:00Z\n"));
        assert!(text.contains("-M q35 -cpu qemu64 -smp 2 -m 512M"));
        assert!(text.contains("| case | Linux ns/op | Tessera ns/op | ratio | target | met |\n"));
        // fault_anon: 4,012 / 5,982 = 0.67 > 0.3.
        assert!(text.contains("| fault_anon | 5,982 | 4,012 | 0.67 | ≤ 0.3 | no |\n"), "{text}");
        // mmap_munmap_4k: 6,000 / 22,484 = 0.27 <= 0.3.
        assert!(text.contains("| mmap_munmap_4k | 22,484 | 6,000 | 0.27 | ≤ 0.3 | yes |\n"), "{text}");
        assert!(text.contains("# targets met: "));
        assert!(text.contains("# host load average at each run's start: linux 3.1, tessera 4.2\n"));
        let table_rows = text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| case")).count();
        assert_eq!(table_rows, 10);
        // This old log has no run on the root: its two rows are missing.
        assert!(text.contains("| file_mmap_read_4m (root) | 1,711,816 | missing | - | ≤ 1.0 | no (not measured) |\n"));
        assert!(!complete(&rows));
        assert!(!text.contains("# runs"));
        assert!(
            text.contains("# linux guest meltdown: Mitigation: PTI | spectre_v2: Mitigation: Retpolines\n"),
            "{text}"
        );
    }

    #[test]
    fn several_runs_give_medians_and_list_each_run() {
        let targets = parse_targets("fault_anon 0.3\nfork_cow_16m 0.5\n").expect("targets");
        let linux = [
            parse_results("fault_anon 1 100\nfork_cow_16m 1 1000\n"),
            parse_results("fault_anon 1 300\nfork_cow_16m 1 3000\n"),
            parse_results("fault_anon 1 200\n"),
        ];
        let tessera = [
            parse_results("fault_anon 1 20\n"),
            parse_results("fault_anon 1 90\n"),
            parse_results("fault_anon 1 60\n"),
        ];
        let rows = rows(&targets, &linux, &tessera);
        // fault_anon: medians 200 and 60, ratio 0.30, met.
        assert_eq!((rows[0].linux, rows[0].tessera), (Some(200), Some(60)));
        assert_eq!(rows[0].met(), Some(true));
        // fork_cow_16m: two Linux runs (lower middle: 1000), no Tessera run.
        assert_eq!((rows[1].linux, rows[1].tessera), (Some(1000), None));
        let text = render(&Header { runs: 3, ..Header::default() }, &rows, &[]);
        assert!(text.contains("# runs: 3 per side"), "{text}");
        assert!(text.contains("| fault_anon | 200 | 60 | 0.30 | ≤ 0.3 | yes |"), "{text}");
        assert!(text.contains("# runs fault_anon: linux 100 300 200 | tessera 20 90 60\n"), "{text}");
        assert!(text.contains("# runs fork_cow_16m: linux 1,000 3,000 | tessera -\n"), "{text}");
        assert!(!complete(&rows));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[5]), Some(5));
        assert_eq!(median(&[9, 1]), Some(1));
        assert_eq!(median(&[3, 9, 1]), Some(3));
        assert_eq!(median(&[4, 3, 9, 1]), Some(3));
    }

    #[test]
    fn missing_case_is_reported_not_met() {
        let targets = parse_targets("fault_anon 0.3\nfork_cow_16m 0.5\n").expect("targets");
        let linux = [parse_results("fault_anon 1 100\nfork_cow_16m 1 100\n")];
        let tessera = [parse_results("[ 5 ms] fault_anon 1 20\n")];
        let rows = rows(&targets, &linux, &tessera);
        let text = render(&Header::default(), &rows, &["-cpu: a vs b".into()]);
        assert!(text.contains("| fork_cow_16m | 100 | missing | - | ≤ 0.5 | no (not measured) |"), "{text}");
        assert!(text.contains("# WARNING: the runs differ in -cpu: a vs b"));
        assert!(text.contains("# targets met: 1 of 2"));
        assert!(!complete(&rows));
    }

    #[test]
    fn thousands() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(999), "999");
        assert_eq!(group_thousands(1000), "1,000");
        assert_eq!(group_thousands(241065848), "241,065,848");
    }
}
