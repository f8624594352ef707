//! Just enough ACPI to count processors and to find the power registers:
//! RSDP → XSDT (or RSDT) → MADT / FADT, with every length and checksum
//! checked so bad firmware tables give an error rather than a wild read
//! (ACPI 6.5 §5.2.5 RSDP, §5.2.7-8 RSDT/XSDT, §5.2.12 MADT, §5.2.9 FADT).

use tessera_bootinfo::{KernelArgs, phys_to_virt};

/// Largest table we agree to read.
const MAX_TABLE_BYTES: usize = 1 << 20;
const SDT_HEADER_BYTES: usize = 36;

/// `len` bytes of physical memory.
fn phys_bytes(phys: u64, len: usize) -> Result<&'static [u8], &'static str> {
    if phys == 0 || len > MAX_TABLE_BYTES || phys.checked_add(len as u64).is_none_or(|e| e > 1 << 46) {
        return Err("ACPI table address or length is implausible");
    }
    // SAFETY: firmware tables live in RAM the physical window maps and the
    // kernel never hands out (ACPI reclaim / NVS areas); the range was
    // bounds-checked above.
    Ok(unsafe { core::slice::from_raw_parts(phys_to_virt(phys) as *const u8, len) })
}

pub fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

pub fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn checksum_ok(b: &[u8]) -> bool {
    b.iter().fold(0u8, |sum, &x| sum.wrapping_add(x)) == 0
}

/// A whole system description table, checked.
fn table(phys: u64) -> Result<&'static [u8], &'static str> {
    let header = phys_bytes(phys, SDT_HEADER_BYTES)?;
    let len = read_u32(header, 4).ok_or("short ACPI header")? as usize;
    if len < SDT_HEADER_BYTES {
        return Err("ACPI table shorter than its header");
    }
    let bytes = phys_bytes(phys, len)?;
    if !checksum_ok(bytes) {
        return Err("ACPI table checksum mismatch");
    }
    Ok(bytes)
}

/// Counts enabled (or online-capable) processor entries in the MADT.
pub fn count_cpus(args: &KernelArgs) -> Result<usize, &'static str> {
    let mut cpus = 0;
    for_each_cpu(args, |_| cpus += 1)?;
    if cpus == 0 { Err("MADT lists no enabled processor") } else { Ok(cpus) }
}

/// The APIC ids of the enabled (or online-capable) processors.
pub fn cpu_apic_ids(args: &KernelArgs) -> Result<alloc::vec::Vec<u32>, &'static str> {
    let mut ids = alloc::vec::Vec::new();
    for_each_cpu(args, |id| ids.push(id))?;
    Ok(ids)
}

/// The system description table with signature `signature`, found through
/// the RSDP's XSDT (or RSDT).
pub fn find_table(args: &KernelArgs, signature: &[u8; 4]) -> Result<&'static [u8], &'static str> {
    let rsdp = phys_bytes(args.hwdesc_phys, args.hwdesc_size_bytes as usize)?;
    if rsdp.get(..8) != Some(b"RSD PTR ".as_slice()) || !checksum_ok(rsdp.get(..20).ok_or("short RSDP")?) {
        return Err("bad RSDP");
    }
    let (root, entry_bytes) = if rsdp[15] >= 2 && rsdp.len() >= 36 {
        (read_u64(rsdp, 24).ok_or("short RSDP")?, 8)
    } else {
        (read_u32(rsdp, 16).ok_or("short RSDP")? as u64, 4)
    };
    let root = table(root)?;
    root[SDT_HEADER_BYTES..]
        .chunks_exact(entry_bytes)
        .map(|e| if entry_bytes == 8 { read_u64(e, 0) } else { read_u32(e, 0).map(u64::from) })
        .filter_map(|addr| table(addr?).ok())
        .find(|t| &t[..4] == signature)
        .ok_or("no such ACPI table")
}

/// A table at a physical address another table gives (the FADT's DSDT).
pub fn table_at(phys: u64) -> Result<&'static [u8], &'static str> {
    table(phys)
}

/// Calls `f(apic_id)` for each enabled (or online-capable) processor entry.
fn for_each_cpu(args: &KernelArgs, mut f: impl FnMut(u32)) -> Result<(), &'static str> {
    let madt = find_table(args, b"APIC").map_err(|_| "no MADT")?;
    let mut at = SDT_HEADER_BYTES + 8;
    while at + 2 <= madt.len() {
        let (kind, len) = (madt[at], madt[at + 1] as usize);
        if len < 2 || at + len > madt.len() {
            return Err("malformed MADT entry");
        }
        let entry = &madt[at..at + len];
        let cpu = match kind {
            // Processor Local APIC: id in byte 3, flags at 4.
            0 => entry.get(3).map(|&id| id as u32).zip(read_u32(entry, 4)),
            // Processor Local x2APIC: id at 4, flags at 8.
            9 => read_u32(entry, 4).zip(read_u32(entry, 8)),
            _ => None,
        };
        if let Some((id, flags)) = cpu
            && flags & 0b11 != 0
        {
            f(id);
        }
        at += len;
    }
    Ok(())
}
