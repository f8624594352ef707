//! The kernel environment: `KEY=value` lines from the ESP's `env` file.

/// The value of `key` in `text`, or `None`. Later lines override earlier
/// ones; blank lines, lines starting with `#` and lines without `=` are
/// ignored; surrounding whitespace (including `\r`) is trimmed.
pub fn lookup<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .rev()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(k, _)| !k.starts_with('#') && k.trim() == key)
        .map(|(_, v)| v.trim())
        .next()
}

#[cfg(test)]
mod tests {
    use super::lookup;

    #[test]
    fn finds_trims_and_overrides() {
        let text = "A=1\r\n# B=2\nB = two \n\nnoequals\nA=3\nEMPTY=\n";
        assert_eq!(lookup(text, "A"), Some("3"));
        assert_eq!(lookup(text, "B"), Some("two"));
        assert_eq!(lookup(text, "EMPTY"), Some(""));
        assert_eq!(lookup(text, "#B"), None);
        assert_eq!(lookup(text, "C"), None);
        assert_eq!(lookup("", "A"), None);
    }
}
