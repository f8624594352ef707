//! Arch-neutral page permissions and memory types.

/// The memory type a mapping gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Normal RAM, write-back cacheable.
    Normal,
    /// Device registers: uncached, no speculation, no merging.
    Device,
}

/// What a mapping allows. Reads are always allowed for a present mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageFlags {
    writable: bool,
    executable: bool,
    user: bool,
    kind: MemoryKind,
}

impl PageFlags {
    /// Kernel-only, read-only, not executable, normal memory.
    pub const fn new() -> Self {
        Self { writable: false, executable: false, user: false, kind: MemoryKind::Normal }
    }
    /// Sets whether writes are allowed.
    pub const fn write(mut self, on: bool) -> Self {
        self.writable = on;
        self
    }
    /// Sets whether instructions may be fetched.
    pub const fn execute(mut self, on: bool) -> Self {
        self.executable = on;
        self
    }
    /// Sets whether user mode may access the page.
    pub const fn user(mut self, on: bool) -> Self {
        self.user = on;
        self
    }
    /// Sets the memory type.
    pub const fn kind(mut self, kind: MemoryKind) -> Self {
        self.kind = kind;
        self
    }
    /// Whether writes are allowed.
    pub const fn is_writable(self) -> bool {
        self.writable
    }
    /// Whether instruction fetches are allowed.
    pub const fn is_executable(self) -> bool {
        self.executable
    }
    /// Whether user mode may access the page.
    pub const fn is_user(self) -> bool {
        self.user
    }
    /// The memory type.
    pub const fn memory_kind(self) -> MemoryKind {
        self.kind
    }
}

impl Default for PageFlags {
    fn default() -> Self {
        Self::new()
    }
}
