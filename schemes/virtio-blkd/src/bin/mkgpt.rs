//! `mkgpt FILE SECTORS [NAME:FIRST:LAST]...`: writes a raw disk image of
//! SECTORS 512-byte sectors holding a protective MBR and a GPT (both
//! headers) with the partitions given (inclusive LBAs, each inside LBA
//! 34 to SECTORS - 34), zeroes elsewhere. The image is deterministic and
//! is written next to FILE, then renamed into place. The build makes the
//! test disk with it (mk/qemu.mk); the daemon reads the table back with the
//! same crate's `gpt::read`.

use std::process::ExitCode;

use tessera_virtio_blkd::gpt::{NewPartition, build};

const USAGE: &str = "usage: mkgpt FILE SECTORS [NAME:FIRST:LAST]...";

fn run(args: &[String]) -> Result<(), String> {
    let [file, sectors, parts @ ..] = args else { return Err(USAGE.into()) };
    let sectors: u64 = sectors.parse().map_err(|_| format!("SECTORS {sectors:?} is not a number\n{USAGE}"))?;
    let parts = parts
        .iter()
        .map(|p| {
            let mut words = p.split(':');
            let (Some(name), Some(first), Some(last), None) = (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(format!("partition {p:?} is not NAME:FIRST:LAST"));
            };
            let lba = |s: &str| s.parse::<u64>().map_err(|_| format!("{s:?} in {p:?} is not a number"));
            Ok(NewPartition { name, first_lba: lba(first)?, last_lba: lba(last)? })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let image = build(sectors, &parts, sectors).ok_or("the partitions do not fit the disk's usable range")?;
    let temp = format!("{file}.new");
    std::fs::write(&temp, &image).map_err(|e| format!("writing {temp}: {e}"))?;
    std::fs::rename(&temp, file).map_err(|e| format!("renaming {temp} to {file}: {e}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkgpt: {e}");
            ExitCode::from(2)
        }
    }
}
