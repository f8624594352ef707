//! What a line of guest serial output means.
//!
//! The guest protocol (see `mk/test.mk` and the kernel's boot path) is plain
//! text on the serial console:
//!
//! | text in the line            | meaning                                      |
//! |-----------------------------|----------------------------------------------|
//! | `tessera-loader: starting`  | the UEFI loader runs (first line it prints)  |
//! | `kernel: entered`           | the kernel's entry point runs                |
//! | `kernel: boot ok`           | the boot succeeded (the success marker)      |
//! | `KERNEL PANIC`, `KERNEL FAULT`, `tessera-loader: error`, `panicked at` | failure |
//!
//! The loader prints through the UEFI console, which mixes in terminal escape
//! sequences (`ESC[=3h`, clear-screen, cursor moves) and `\r`; [`clean`]
//! removes them before anything is matched, so a marker is found no matter
//! what the firmware wrapped around it.

/// The loader's first line.
pub const LOADER_STARTING: &str = "tessera-loader: starting";
/// The kernel's first line.
pub const KERNEL_ENTERED: &str = "kernel: entered";
/// The success marker of a normal boot.
pub const BOOT_OK: &str = "kernel: boot ok";
/// The kernel's CPU-exception report; the fault test expects it.
pub const KERNEL_FAULT: &str = "KERNEL FAULT";
/// Any line containing one of these is a failure.
pub const FAILURE_MARKERS: [&str; 4] = ["KERNEL PANIC", KERNEL_FAULT, "tessera-loader: error", "panicked at"];

/// The kind of one cleaned line. A failure marker wins over a progress
/// marker in the same line, so `kernel: boot ok ... panicked at` is a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineKind {
    /// Contains [`LOADER_STARTING`].
    LoaderStarting,
    /// Contains [`KERNEL_ENTERED`].
    KernelEntered,
    /// Contains [`BOOT_OK`].
    BootOk,
    /// Contains one of [`FAILURE_MARKERS`].
    Failure,
    /// Anything else (firmware chatter, test output, QEMU messages).
    Other,
}

/// Classifies a line that has already been through [`clean`].
pub fn classify(line: &str) -> LineKind {
    if FAILURE_MARKERS.iter().any(|marker| line.contains(marker)) {
        LineKind::Failure
    } else if line.contains(BOOT_OK) {
        LineKind::BootOk
    } else if line.contains(KERNEL_ENTERED) {
        LineKind::KernelEntered
    } else if line.contains(LOADER_STARTING) {
        LineKind::LoaderStarting
    } else {
        LineKind::Other
    }
}

/// Removes terminal control sequences and stray carriage returns.
///
/// Removed: CSI sequences matching `ESC [ [0-9;?=]* [A-Za-z]`, every `\r`
/// (UEFI consoles end lines with `\r\n`, and redraw with bare `\r`), a
/// trailing `\n`, and any other lone `ESC`. Everything else is kept as is.
pub fn clean(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            0x1b => i += csi_len(&bytes[i..]).unwrap_or(1),
            b'\r' => i += 1,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out.last() == Some(&b'\n') {
        out.pop();
    }
    // Only ASCII bytes were removed, so the rest is still valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The length of the CSI sequence `ESC [ [0-9;?=]* [A-Za-z]` at the start of
/// `bytes`, or `None` if it does not start with a complete one.
fn csi_len(bytes: &[u8]) -> Option<usize> {
    if bytes.get(1) != Some(&b'[') {
        return None;
    }
    let params = bytes[2..].iter().take_while(|b| b.is_ascii_digit() || matches!(b, b';' | b'?' | b'=')).count();
    let last = *bytes.get(2 + params)?;
    last.is_ascii_alphabetic().then_some(params + 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_uefi_console_escapes() {
        assert_eq!(clean("\x1b[=3h\x1b[2J\x1b[01;01Htessera-loader: starting\r\n"), "tessera-loader: starting");
        assert_eq!(clean("\x1b[?25lkernel: entered\x1b[0m"), "kernel: entered");
    }

    #[test]
    fn keeps_text_around_malformed_escapes() {
        assert_eq!(clean("a\x1bb"), "ab");
        assert_eq!(clean("a\x1b[12"), "a[12");
        assert_eq!(clean("a\x1b[1;2~b"), "a[1;2~b");
        assert_eq!(clean("progress\rdone\r\r\n"), "progressdone");
    }

    #[test]
    fn classifies_progress_markers() {
        assert_eq!(classify("tessera-loader: starting"), LineKind::LoaderStarting);
        assert_eq!(classify("[0.1] kernel: entered (cpu 0)"), LineKind::KernelEntered);
        assert_eq!(classify("kernel: boot ok"), LineKind::BootOk);
        assert_eq!(classify("BdsDxe: starting Boot0002"), LineKind::Other);
        assert_eq!(classify(""), LineKind::Other);
    }

    #[test]
    fn detects_failure_lines() {
        for line in [
            "KERNEL PANIC: out of frames",
            "KERNEL FAULT: page fault at 0x0 (rip 0xffffffff80001234)",
            "tessera-loader: error: kernel not found",
            "panicked at kernel/src/main.rs:10:5:",
            "cpu1: KERNEL FAULT: undefined instruction",
        ] {
            assert_eq!(classify(line), LineKind::Failure, "{line}");
        }
        // Case matters: the markers are exact.
        assert_eq!(classify("kernel panic is a phrase"), LineKind::Other);
    }

    #[test]
    fn failure_wins_over_a_marker_in_the_same_line() {
        assert_eq!(classify("kernel: boot ok panicked at x"), LineKind::Failure);
    }

    #[test]
    fn escapes_cannot_hide_a_failure() {
        let line = clean("\x1b[31mKERNEL \x1b[1mFAULT\x1b[0m: #GP\r\n");
        assert_eq!(line, "KERNEL FAULT: #GP");
        assert_eq!(classify(&line), LineKind::Failure);
    }
}
