//! Signal names and numbers for `kill`: `9`, `KILL` and `SIGKILL` all
//! name signal 9. The numbers are Linux's (`tessera_abi::signal`).

use tessera_runtime::abi::signal::*;

/// The signals with a name, in number order.
pub const NAMED: [(usize, &str); 12] = [
    (SIGHUP, "HUP"),
    (SIGINT, "INT"),
    (SIGQUIT, "QUIT"),
    (SIGILL, "ILL"),
    (SIGTRAP, "TRAP"),
    (SIGABRT, "ABRT"),
    (SIGBUS, "BUS"),
    (SIGFPE, "FPE"),
    (SIGKILL, "KILL"),
    (SIGSEGV, "SEGV"),
    (SIGPIPE, "PIPE"),
    (SIGTERM, "TERM"),
];

/// The signal `word` names: a number below `NSIG` (0 only checks that the
/// process exists), or a name with or without `SIG`, in any case.
pub fn parse(word: &str) -> Option<usize> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok().filter(|&n| n < NSIG);
    }
    let name = word.strip_prefix("SIG").or_else(|| word.strip_prefix("sig")).unwrap_or(word);
    NAMED.iter().find(|(_, known)| known.eq_ignore_ascii_case(name)).map(|&(number, _)| number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9"), Some(9));
        assert_eq!(parse("KILL"), Some(9));
        assert_eq!(parse("SIGKILL"), Some(9));
        assert_eq!(parse("term"), Some(15));
        assert_eq!(parse("INT"), Some(2));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("32"), None);
        assert_eq!(parse("NOPE"), None);
        assert_eq!(parse(""), None);
    }
}
