//! Word expansion: a [`Word`]'s parts joined, variables replaced by their
//! values. There is no field splitting and no pathname expansion (globs):
//! `$X` is always one argument, whatever spaces its value holds, and `*`
//! is an ordinary character. An unquoted word that expands to nothing is
//! dropped (`echo $UNSET x` has one argument); a quoted one stays (`""`).

use alloc::string::String;
use alloc::vec::Vec;

use crate::lexer::{Part, Word};

/// Where variable values come from (`?`, `$`, `0`…, `#`, `*` included).
pub trait Vars {
    /// The value of `name`; `None` if unset (which expands to nothing).
    fn get(&self, name: &str) -> Option<String>;
}

/// The word's text, or `None` if it is unquoted and expands to nothing.
pub fn word(word: &Word, vars: &impl Vars) -> Option<String> {
    let text = text(word, vars);
    (word.quoted || !text.is_empty()).then_some(text)
}

/// The word's text (empty if it expands to nothing).
pub fn text(word: &Word, vars: &impl Vars) -> String {
    let mut text = String::new();
    for part in &word.parts {
        match part {
            Part::Lit(s) => text.push_str(s),
            Part::Var(name) => text.push_str(&vars.get(name).unwrap_or_default()),
        }
    }
    text
}

/// Every word of `words` that does not expand to nothing.
pub fn words(words: &[Word], vars: &impl Vars) -> Vec<String> {
    words.iter().filter_map(|w| word(w, vars)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::{Token, tokenize};

    struct Fixed;

    impl Vars for Fixed {
        fn get(&self, name: &str) -> Option<String> {
            match name {
                "A" => Some("a b".into()),
                "?" => Some("3".into()),
                "E" => Some(String::new()),
                _ => None,
            }
        }
    }

    fn expand(text: &str) -> Vec<String> {
        let parsed: Vec<Word> = tokenize(text)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w),
                _ => None,
            })
            .collect();
        words(&parsed, &Fixed)
    }

    #[test]
    fn variables_expand_without_splitting() {
        assert_eq!(expand("x$A \"$A\"y '$A' $?"), ["xa b", "a by", "$A", "3"]);
    }

    #[test]
    fn empty_unquoted_words_are_dropped() {
        assert_eq!(expand("$UNSET $E x \"$E\" ''"), ["x", "", ""]);
    }
}
