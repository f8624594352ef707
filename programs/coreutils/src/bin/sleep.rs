//! `sleep SECONDS...`: waits for the sum of the operands, each a decimal
//! number of seconds with an optional fraction (`1`, `0.1`, `.5`;
//! nanosecond precision). A malformed number is a usage error (status 2).
#![no_std]
#![no_main]

use coreutils::Tool;
use tessera_runtime::abi::TimeSpec;
use tessera_runtime::abi::error::EINTR;
use tessera_runtime::{Args, sys};

tessera_runtime::entry!(main);

/// Nanoseconds per second.
const NANOS_PER_SEC: u64 = 1_000_000_000;

fn main(args: Args) -> i32 {
    let mut tool = Tool::new("sleep", "SECONDS...");
    let parsed = match tool.options(coreutils::operands(&args), "") {
        Ok(parsed) => parsed,
        Err(status) => return status,
    };
    if parsed.operands.is_empty() {
        return tool.usage_error(format_args!("missing operand"));
    }
    let mut total_nanos: u64 = 0;
    for word in &parsed.operands {
        match coreutils::parse_seconds(word) {
            Some(nanos) => total_nanos = total_nanos.saturating_add(nanos),
            None => return tool.usage_error(format_args!("invalid time interval {word}")),
        }
    }
    let mut left =
        TimeSpec { tv_sec: (total_nanos / NANOS_PER_SEC) as i64, tv_nsec: (total_nanos % NANOS_PER_SEC) as i32 };
    loop {
        let mut remaining = TimeSpec::default();
        match sys::nanosleep(&left, Some(&mut remaining)) {
            Ok(()) => break,
            Err(e) if e.errno == EINTR => left = remaining,
            Err(e) => {
                tool.error("nanosleep", e);
                break;
            }
        }
    }
    tool.status()
}
