//! The panic handler: report on fd 2, exit with status 101 (as a Rust `std`
//! program's panic does), so a parent sees the failure in `waitpid`.

#[cfg(all(target_os = "none", not(test)))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::fmt::Write;

    let mut out = crate::io::FdWriter::new(crate::io::STDERR);
    let _ = write!(out, "panic: {}", info.message());
    if let Some(location) = info.location() {
        let _ = write!(out, " ({}:{}:{})", location.file(), location.line(), location.column());
    }
    let _ = out.write_str("\n");
    out.flush();
    crate::sys::exit(101)
}
