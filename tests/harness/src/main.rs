//! `boot-test`: boots a test image in QEMU and judges its serial output.
//!
//! Thin on purpose; everything lives in the `tessera_harness` library so it
//! can be unit-tested. Run `boot-test --help` for the command line.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(tessera_harness::main_with_args(&args));
}
