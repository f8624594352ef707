//! The PC's CMOS real-time clock (an MC146818A-compatible part in the
//! chipset), read once at boot for the wall time. It keeps a calendar date
//! in BCD or binary, 12- or 24-hour, as its status register B says, and
//! counts whole seconds.
//!
//! Motorola MC146818A data sheet: "Address Map" (time registers 0x00-0x09,
//! status registers A and B at 0x0A, 0x0B), "Update Cycle" (while UIP,
//! status A bit 7, is set the time registers may be mid-update), status B
//! bit 1 (24-hour) and bit 2 (binary, "DM"). The chipset maps it at index
//! port 0x70 / data port 0x71.
//!
//! The century is taken as 20: the century register's index is only known
//! from the ACPI FADT, and 2000-2099 covers every machine this runs on.

use x86_64::instructions::port::Port;

use tessera_time::DateTime;

const INDEX_PORT: u16 = 0x70;
const DATA_PORT: u16 = 0x71;

const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY_OF_MONTH: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0A;
const STATUS_B: u8 = 0x0B;

const STATUS_A_UPDATE_IN_PROGRESS: u8 = 1 << 7;
const STATUS_B_24_HOUR: u8 = 1 << 1;
const STATUS_B_BINARY: u8 = 1 << 2;
/// In 12-hour mode, bit 7 of the hours register marks PM.
const HOURS_PM: u8 = 1 << 7;

/// An update cycle lasts under 2 ms; each register read is a few µs.
const MAX_UIP_POLLS: u32 = 100_000;
const MAX_ATTEMPTS: u32 = 5;

fn read_register(index: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 select and read a CMOS register; bit 7 of the
    // index (NMI disable) stays 0, as the firmware leaves it.
    unsafe {
        Port::<u8>::new(INDEX_PORT).write(index);
        Port::<u8>::new(DATA_PORT).read()
    }
}

/// Waits until no update cycle is in progress; false if one never ends.
fn wait_for_update_done() -> bool {
    (0..MAX_UIP_POLLS).any(|_| read_register(STATUS_A) & STATUS_A_UPDATE_IN_PROGRESS == 0)
}

/// The raw time registers: seconds, minutes, hours, day, month, year.
fn read_raw() -> Option<[u8; 6]> {
    wait_for_update_done().then(|| [SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR].map(read_register))
}

/// Seconds since the UNIX epoch, or `None` if the clock does not answer
/// or holds an impossible date. The registers are read until two reads in
/// a row agree, so an update between them cannot tear the value.
pub fn read_unix_seconds() -> Option<u64> {
    let mut previous = read_raw()?;
    for _ in 0..MAX_ATTEMPTS {
        let current = read_raw()?;
        if current == previous {
            return decode(current, read_register(STATUS_B)).to_unix_seconds();
        }
        previous = current;
    }
    None
}

fn decode(raw: [u8; 6], status_b: u8) -> DateTime {
    let binary = status_b & STATUS_B_BINARY != 0;
    let value =
        |byte: u8| -> u32 { if binary { u32::from(byte) } else { u32::from(byte & 0x0F) + u32::from(byte >> 4) * 10 } };
    let [second, minute, hours, day, month, year] = raw;
    let mut hour = value(hours & !HOURS_PM);
    if status_b & STATUS_B_24_HOUR == 0 {
        // 12-hour mode: 12 AM is 0:xx, 12 PM is 12:xx.
        hour = hour % 12 + if hours & HOURS_PM != 0 { 12 } else { 0 };
    }
    DateTime {
        year: 2000 + value(year),
        month: value(month),
        day: value(day),
        hour,
        minute: value(minute),
        second: value(second),
    }
}
