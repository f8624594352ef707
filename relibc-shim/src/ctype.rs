//! `<ctype.h>`: character classes of the "C" locale (ASCII). Values
//! outside 0..=255 (except EOF) are undefined in C; here they are simply
//! in no class.

use core::ffi::c_int;

fn byte(c: c_int) -> Option<u8> {
    u8::try_from(c).ok()
}

macro_rules! class {
    ($($name:ident => $test:expr;)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name(c: c_int) -> c_int {
            byte(c).is_some_and($test) as c_int
        }
    )*};
}

class! {
    isalnum => |b: u8| b.is_ascii_alphanumeric();
    isalpha => |b: u8| b.is_ascii_alphabetic();
    isblank => |b: u8| b == b' ' || b == b'\t';
    iscntrl => |b: u8| b.is_ascii_control();
    isdigit => |b: u8| b.is_ascii_digit();
    isgraph => |b: u8| b.is_ascii_graphic();
    islower => |b: u8| b.is_ascii_lowercase();
    isprint => |b: u8| b.is_ascii_graphic() || b == b' ';
    ispunct => |b: u8| b.is_ascii_punctuation();
    isspace => |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    isupper => |b: u8| b.is_ascii_uppercase();
    isxdigit => |b: u8| b.is_ascii_hexdigit();
}

#[unsafe(no_mangle)]
pub extern "C" fn isascii(c: c_int) -> c_int {
    (0..128).contains(&c) as c_int
}

#[unsafe(no_mangle)]
pub extern "C" fn tolower(c: c_int) -> c_int {
    byte(c).map_or(c, |b| b.to_ascii_lowercase() as c_int)
}

#[unsafe(no_mangle)]
pub extern "C" fn toupper(c: c_int) -> c_int {
    byte(c).map_or(c, |b| b.to_ascii_uppercase() as c_int)
}

#[unsafe(no_mangle)]
pub extern "C" fn toascii(c: c_int) -> c_int {
    c & 0x7F
}
