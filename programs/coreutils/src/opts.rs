//! Command-line options, POSIX style: single letters after a `-`, which
//! may be grouped (`-rf`); options come before the operands: the first
//! word that is not an option (or a lone `-`, which means standard input
//! to the tools that read) ends them, and so does `--`, which is dropped.
//! `--help` anywhere before the operands asks for the usage line.

use alloc::vec::Vec;

/// Why [`parse`] did not give options and operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptError {
    /// `--help` was given.
    Help,
    /// A letter that is not among the tool's options.
    Unknown(char),
}

/// The options seen and the operands left.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed<'a> {
    letters: Vec<char>,
    /// The words after the options, in order.
    pub operands: Vec<&'a str>,
}

impl Parsed<'_> {
    /// Whether option `-letter` was given (once or more).
    pub fn has(&self, letter: char) -> bool {
        self.letters.contains(&letter)
    }
}

/// Splits `args` (the words after the program name) into options among
/// `known` (one char per option letter) and operands.
///
/// Errors: [`OptError::Help`] for `--help`, [`OptError::Unknown`] for a
/// letter not in `known` or another `--word`.
pub fn parse<'a>(args: &'a [&'a str], known: &str) -> Result<Parsed<'a>, OptError> {
    let mut parsed = Parsed::default();
    let mut words = args.iter();
    for &word in words.by_ref() {
        if word == "--" {
            break;
        }
        if word == "--help" {
            return Err(OptError::Help);
        }
        let Some(letters) = word.strip_prefix('-').filter(|rest| !rest.is_empty()) else {
            parsed.operands.push(word);
            break;
        };
        for letter in letters.chars() {
            if !known.contains(letter) || letter == '-' {
                return Err(OptError::Unknown(letter));
            }
            parsed.letters.push(letter);
        }
    }
    parsed.operands.extend(words.copied());
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_then_operands() {
        let p = parse(&["-l", "-ra", "x", "-l", "y"], "lra").unwrap();
        assert!(p.has('l') && p.has('r') && p.has('a') && !p.has('p'));
        assert_eq!(p.operands, ["x", "-l", "y"]);
    }

    #[test]
    fn dash_and_double_dash() {
        let p = parse(&["-", "-l"], "l").unwrap();
        assert_eq!(p.operands, ["-", "-l"]);
        let p = parse(&["-l", "--", "-z"], "l").unwrap();
        assert!(p.has('l'));
        assert_eq!(p.operands, ["-z"]);
        assert!(parse(&[], "l").unwrap().operands.is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(parse(&["-z"], "l"), Err(OptError::Unknown('z')));
        assert_eq!(parse(&["-lz"], "l"), Err(OptError::Unknown('z')));
        assert_eq!(parse(&["--all"], "l"), Err(OptError::Unknown('-')));
        assert_eq!(parse(&["-l", "--help"], "l"), Err(OptError::Help));
    }
}
