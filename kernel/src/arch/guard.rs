//! The words of the hardware-protection self-test, the same on every arch:
//! what a probe does with a user address, whether a protection is in force,
//! and one protection with its probe. Each arch's `protect` module lists its
//! own [`Guard`]s (SMEP/SMAP, PAN/PXN) and runs the probes.

/// What a probe does with the user address.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// Loads 8 bytes from it.
    Read,
    /// Calls it (the page holds the arch's `RETURN_INSTRUCTION`).
    Execute,
}

/// Whether a protection is in force on this CPU.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The CPU does not implement it.
    Missing,
    /// Implemented, not enabled.
    Off,
    /// Enabled.
    On,
}

/// One protection, the probe that shows it works, and its state.
pub struct Guard {
    pub name: &'static str,
    pub probe: Probe,
    pub state: fn() -> State,
}
