//! Splits shell text into tokens: words (with their quoting kept, for
//! expansion later) and operators.
//!
//! - Words end at unquoted blanks and operators. Inside a word, `'…'`
//!   keeps everything literally; `"…"` keeps everything but `$` expansions
//!   (and `\` before `$`, `` ` ``, `"`, `\` or a newline); outside quotes
//!   `\` keeps the next character literally and `\` + newline joins lines.
//! - `$NAME`, `${NAME}` and the special `$?`, `$$`, `$#`, `$0`…`$9`, `$*`,
//!   `$@` become [`Part::Var`]; a `$` that starts none of these is literal.
//!   A `~` at the start of an unquoted word (alone or before `/`) is
//!   `$HOME`.
//! - Operators: `|`, `||`, `&&`, `;`, newline, `<`, `>`, `>>`, `>&`, and
//!   `&` (rejected by the parser: no background jobs). A word of digits
//!   right before `<`, `>`, `>>` or `>&` is the redirection's fd (`2>err`).
//! - `#` at the start of a word starts a comment up to the end of the line.
//!
//! An unterminated quote, `${`, or a trailing `\` is [`LexError::Incomplete`]:
//! an interactive shell reads another line and tries again.

use alloc::string::String;
use alloc::vec::Vec;

/// A piece of a word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text taken as it is.
    Lit(String),
    /// A variable's value (`$NAME`, `${NAME}`, `$?` …), by name.
    Var(String),
}

/// A word before expansion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Word {
    pub parts: Vec<Part>,
    /// Some part was quoted: the word stays even if it expands to nothing.
    pub quoted: bool,
}

impl Word {
    /// The word's text if it is a plain literal (no variables).
    pub fn literal(&self) -> Option<String> {
        let mut text = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => text.push_str(s),
                Part::Var(_) => return None,
            }
        }
        Some(text)
    }

    fn push_char(&mut self, c: char) {
        match self.parts.last_mut() {
            Some(Part::Lit(s)) => s.push(c),
            _ => self.parts.push(Part::Lit(c.into())),
        }
    }
}

/// An operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Pipe,
    Or,
    And,
    Semi,
    Newline,
    Amp,
    /// `<`
    Less,
    /// `>`
    Great,
    /// `>>`
    DGreat,
    /// `>&`
    GreatAnd,
}

/// A token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Word(Word),
    /// A redirection's fd number (`2` in `2>err`).
    IoNumber(usize),
    Op(Op),
}

/// Why text could not be split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexError {
    /// Unterminated quote, `${` or trailing `\`: more input could finish it.
    Incomplete,
    /// `${` with a bad name inside.
    BadSubstitution,
}

/// Splits `text` into tokens.
pub fn tokenize(text: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer { chars: text.chars().collect(), at: 0, tokens: Vec::new() };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    tokens: Vec<Token>,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.at + 1).copied()
    }

    fn run(&mut self) -> Result<(), LexError> {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.at += 1,
                '\\' if self.peek2() == Some('\n') => self.at += 2,
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.at += 1;
                    }
                }
                '\n' | ';' | '&' | '|' | '<' | '>' => self.operator(c),
                _ => self.word()?,
            }
        }
        Ok(())
    }

    fn operator(&mut self, c: char) {
        let next = self.peek2();
        let (op, len) = match (c, next) {
            ('|', Some('|')) => (Op::Or, 2),
            ('|', _) => (Op::Pipe, 1),
            ('&', Some('&')) => (Op::And, 2),
            ('&', _) => (Op::Amp, 1),
            (';', _) => (Op::Semi, 1),
            ('\n', _) => (Op::Newline, 1),
            ('<', _) => (Op::Less, 1),
            ('>', Some('>')) => (Op::DGreat, 2),
            ('>', Some('&')) => (Op::GreatAnd, 2),
            _ => (Op::Great, 1),
        };
        self.at += len;
        self.tokens.push(Token::Op(op));
    }

    fn word(&mut self) -> Result<(), LexError> {
        let start = self.at;
        let mut word = Word::default();
        if self.peek() == Some('~') && matches!(self.peek2(), None | Some('/' | ' ' | '\t' | '\n' | ';' | '|' | '&')) {
            self.at += 1;
            word.parts.push(Part::Var("HOME".into()));
        }
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '<' | '>' => break,
                '\'' => {
                    word.quoted = true;
                    self.at += 1;
                    let end = self.chars[self.at..].iter().position(|&c| c == '\'').ok_or(LexError::Incomplete)?;
                    // An empty '' still makes the word exist (`quoted`).
                    let text: String = self.chars[self.at..self.at + end].iter().collect();
                    if !text.is_empty() {
                        word.parts.push(Part::Lit(text));
                    }
                    self.at += end + 1;
                }
                '"' => {
                    word.quoted = true;
                    self.at += 1;
                    self.double_quoted(&mut word)?;
                }
                '\\' => match self.peek2() {
                    None => return Err(LexError::Incomplete),
                    Some('\n') => self.at += 2,
                    Some(c) => {
                        word.quoted = true;
                        word.push_char(c);
                        self.at += 2;
                    }
                },
                '$' => self.dollar(&mut word)?,
                _ => {
                    word.push_char(c);
                    self.at += 1;
                }
            }
        }
        let digits = self.chars[start..self.at].iter().all(char::is_ascii_digit) && self.at > start;
        if digits && matches!(self.peek(), Some('<' | '>')) {
            let number: String = self.chars[start..self.at].iter().collect();
            if let Ok(fd) = number.parse() {
                self.tokens.push(Token::IoNumber(fd));
                return Ok(());
            }
        }
        self.tokens.push(Token::Word(word));
        Ok(())
    }

    /// After an opening `"`: up to and including the closing one.
    fn double_quoted(&mut self, word: &mut Word) -> Result<(), LexError> {
        loop {
            match self.peek().ok_or(LexError::Incomplete)? {
                '"' => {
                    self.at += 1;
                    return Ok(());
                }
                '\\' => match self.peek2().ok_or(LexError::Incomplete)? {
                    '\n' => self.at += 2,
                    c @ ('$' | '`' | '"' | '\\') => {
                        word.push_char(c);
                        self.at += 2;
                    }
                    _ => {
                        word.push_char('\\');
                        self.at += 1;
                    }
                },
                '$' => self.dollar(word)?,
                c => {
                    word.push_char(c);
                    self.at += 1;
                }
            }
        }
    }

    /// At a `$`: a variable, or a literal `$`.
    fn dollar(&mut self, word: &mut Word) -> Result<(), LexError> {
        self.at += 1;
        match self.peek() {
            Some('{') => {
                self.at += 1;
                let end = self.chars[self.at..].iter().position(|&c| c == '}').ok_or(LexError::Incomplete)?;
                let name: String = self.chars[self.at..self.at + end].iter().collect();
                if !valid_name(&name) && !special(&name) {
                    return Err(LexError::BadSubstitution);
                }
                self.at += end + 1;
                word.parts.push(Part::Var(name));
            }
            Some(c @ ('?' | '$' | '#' | '*' | '@' | '0'..='9')) => {
                self.at += 1;
                word.parts.push(Part::Var(c.into()));
            }
            Some(c) if c == '_' || c.is_ascii_alphabetic() => {
                let start = self.at;
                while self.peek().is_some_and(|c| c == '_' || c.is_ascii_alphanumeric()) {
                    self.at += 1;
                }
                word.parts.push(Part::Var(self.chars[start..self.at].iter().collect()));
            }
            _ => word.push_char('$'),
        }
        Ok(())
    }
}

/// A variable name: a letter or `_`, then letters, digits and `_`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// A special parameter's name (`?`, `$`, `#`, `*`, `@`, a digit).
fn special(name: &str) -> bool {
    matches!(name, "?" | "$" | "#" | "*" | "@") || (name.len() == 1 && name.as_bytes()[0].is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }

    fn var(s: &str) -> Part {
        Part::Var(s.into())
    }

    fn word(parts: Vec<Part>, quoted: bool) -> Token {
        Token::Word(Word { parts, quoted })
    }

    #[test]
    fn words_and_operators() {
        let tokens = tokenize("ls -l | cat>out;echo a&&b||c 2>>err <in >&2 &").unwrap();
        use Op::*;
        assert_eq!(
            tokens,
            [
                word(vec![lit("ls")], false),
                word(vec![lit("-l")], false),
                Token::Op(Pipe),
                word(vec![lit("cat")], false),
                Token::Op(Great),
                word(vec![lit("out")], false),
                Token::Op(Semi),
                word(vec![lit("echo")], false),
                word(vec![lit("a")], false),
                Token::Op(And),
                word(vec![lit("b")], false),
                Token::Op(Or),
                word(vec![lit("c")], false),
                Token::IoNumber(2),
                Token::Op(DGreat),
                word(vec![lit("err")], false),
                Token::Op(Less),
                word(vec![lit("in")], false),
                Token::Op(GreatAnd),
                word(vec![lit("2")], false),
                Token::Op(Amp),
            ]
        );
    }

    #[test]
    fn quotes_and_variables() {
        let tokens = tokenize(r#"echo 'a $b' "c $d ${e}f \$g \x" h$?i $ ~ ~/x a~ '' "#).unwrap();
        assert_eq!(
            tokens,
            [
                word(vec![lit("echo")], false),
                word(vec![lit("a $b")], true),
                word(vec![lit("c "), var("d"), lit(" "), var("e"), lit("f $g \\x")], true),
                word(vec![lit("h"), var("?"), lit("i")], false),
                word(vec![lit("$")], false),
                word(vec![var("HOME")], false),
                word(vec![var("HOME"), lit("/x")], false),
                word(vec![lit("a~")], false),
                word(vec![], true),
            ]
        );
    }

    #[test]
    fn comments_escapes_and_continuations() {
        let tokens = tokenize("a\\ b # c d\ne\\\nf").unwrap();
        assert_eq!(tokens, [word(vec![lit("a b")], true), Token::Op(Op::Newline), word(vec![lit("ef")], false)]);
        assert_eq!(tokenize("x#y").unwrap(), [word(vec![lit("x#y")], false)]);
    }

    #[test]
    fn incomplete_input() {
        for text in ["echo 'a", "echo \"a", "echo a\\", "echo ${a"] {
            assert_eq!(tokenize(text), Err(LexError::Incomplete), "{text}");
        }
        assert_eq!(tokenize("echo ${a b}"), Err(LexError::BadSubstitution));
    }
}
