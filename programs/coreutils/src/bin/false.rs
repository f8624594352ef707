//! `false`: does nothing and exits with 1.
#![no_std]
#![no_main]

tessera_runtime::entry!(main);

fn main(_args: tessera_runtime::Args) -> i32 {
    coreutils::EXIT_FAILURE
}
