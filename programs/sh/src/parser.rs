//! Builds the command tree from tokens. The grammar (a subset of POSIX):
//!
//! ```text
//! script   := separator* (and_or (separator+ and_or)*)? separator*
//! separator:= ';' | newline
//! and_or   := pipeline (('&&' | '||') newline* pipeline)*
//! pipeline := '!'? command ('|' newline* command)*
//! command  := (NAME=value)* (word | redirection)*   -- at least one item
//! redirection := fd? ('<' | '>' | '>>' | '>&') word
//! ```
//!
//! A script that ends after `|`, `&&` or `||` is [`ParseError::Incomplete`]
//! (an interactive shell reads another line); `&` (background jobs) is
//! refused.

use alloc::string::String;
use alloc::vec::Vec;

use crate::lexer::{self, LexError, Op, Part, Token, Word};

/// A whole script: and-or lists run one after the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub lists: Vec<AndOr>,
}

/// Pipelines joined by `&&` / `||`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AndOr {
    pub first: Pipeline,
    pub rest: Vec<(Connector, Pipeline)>,
}

/// How a pipeline depends on the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connector {
    /// `&&`: runs if the one before succeeded.
    And,
    /// `||`: runs if the one before failed.
    Or,
}

/// Commands joined by `|`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    /// `!`: the status is inverted.
    pub negated: bool,
    pub commands: Vec<Command>,
}

/// One simple command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Command {
    /// `NAME=value` words before the command name.
    pub assignments: Vec<(String, Word)>,
    /// The name and arguments.
    pub words: Vec<Word>,
    pub redirections: Vec<Redirection>,
}

/// What a redirection does to its fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedirKind {
    /// `<`: read from the file.
    Read,
    /// `>`: write to the file, emptied (created if missing).
    Write,
    /// `>>`: append to the file (created if missing).
    Append,
    /// `>&`: a copy of another fd (the target is its number).
    Dup,
}

/// `fd KIND target`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirection {
    pub fd: usize,
    pub kind: RedirKind,
    pub target: Word,
}

/// Why text is not a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// More input could finish it (an open quote, a trailing `|`).
    Incomplete,
    /// It cannot be parsed; the message says why.
    Syntax(String),
}

impl From<LexError> for ParseError {
    fn from(error: LexError) -> Self {
        match error {
            LexError::Incomplete => ParseError::Incomplete,
            LexError::BadSubstitution => ParseError::Syntax("bad ${} substitution".into()),
        }
    }
}

/// Parses shell text.
pub fn parse(text: &str) -> Result<Script, ParseError> {
    let tokens = lexer::tokenize(text)?;
    let mut parser = Parser { tokens, at: 0 };
    parser.script()
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

fn syntax<T>(message: &str) -> Result<T, ParseError> {
    Err(ParseError::Syntax(message.into()))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn peek_op(&self) -> Option<Op> {
        match self.peek() {
            Some(Token::Op(op)) => Some(*op),
            _ => None,
        }
    }

    fn skip_newlines(&mut self) {
        while self.peek_op() == Some(Op::Newline) {
            self.at += 1;
        }
    }

    fn script(&mut self) -> Result<Script, ParseError> {
        let mut script = Script::default();
        loop {
            while matches!(self.peek_op(), Some(Op::Semi | Op::Newline)) {
                self.at += 1;
            }
            if self.peek().is_none() {
                return Ok(script);
            }
            script.lists.push(self.and_or()?);
            match self.peek_op() {
                None if self.peek().is_none() => return Ok(script),
                Some(Op::Semi | Op::Newline) => {}
                Some(Op::Amp) => return syntax("background jobs (&) are not supported"),
                _ => return syntax("unexpected token"),
            }
        }
    }

    fn and_or(&mut self) -> Result<AndOr, ParseError> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let connector = match self.peek_op() {
                Some(Op::And) => Connector::And,
                Some(Op::Or) => Connector::Or,
                _ => return Ok(AndOr { first, rest }),
            };
            self.at += 1;
            self.skip_newlines();
            rest.push((connector, self.pipeline()?));
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, ParseError> {
        let negated = matches!(self.peek(), Some(Token::Word(w)) if w.literal().as_deref() == Some("!") && !w.quoted);
        if negated {
            self.at += 1;
        }
        let mut commands = alloc::vec![self.command()?];
        while self.peek_op() == Some(Op::Pipe) {
            self.at += 1;
            self.skip_newlines();
            commands.push(self.command()?);
        }
        Ok(Pipeline { negated, commands })
    }

    fn command(&mut self) -> Result<Command, ParseError> {
        let mut command = Command::default();
        loop {
            match self.peek().cloned() {
                Some(Token::Word(word)) => {
                    self.at += 1;
                    match assignment(&word) {
                        Some(pair) if command.words.is_empty() => command.assignments.push(pair),
                        _ => command.words.push(word),
                    }
                }
                Some(Token::IoNumber(fd)) => {
                    self.at += 1;
                    let redirection = self.redirection(Some(fd))?;
                    command.redirections.push(redirection);
                }
                Some(Token::Op(Op::Less | Op::Great | Op::DGreat | Op::GreatAnd)) => {
                    let redirection = self.redirection(None)?;
                    command.redirections.push(redirection);
                }
                Some(Token::Op(_)) | None => break,
            }
        }
        if command.words.is_empty() && command.assignments.is_empty() && command.redirections.is_empty() {
            return match self.peek() {
                None => Err(ParseError::Incomplete),
                Some(_) => syntax("a command is missing"),
            };
        }
        Ok(command)
    }

    fn redirection(&mut self, fd: Option<usize>) -> Result<Redirection, ParseError> {
        let (kind, default_fd) = match self.peek_op() {
            Some(Op::Less) => (RedirKind::Read, 0),
            Some(Op::Great) => (RedirKind::Write, 1),
            Some(Op::DGreat) => (RedirKind::Append, 1),
            Some(Op::GreatAnd) => (RedirKind::Dup, 1),
            _ => return syntax("a redirection is missing after the fd number"),
        };
        self.at += 1;
        match self.peek().cloned() {
            Some(Token::Word(target)) => {
                self.at += 1;
                Ok(Redirection { fd: fd.unwrap_or(default_fd), kind, target })
            }
            None => syntax("a redirection needs a file name"),
            Some(_) => syntax("a redirection needs a file name, not an operator"),
        }
    }
}

/// `NAME=value` as a pair, if the word is one (the name unquoted).
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Lit(first)) = word.parts.first() else { return None };
    let (name, value) = first.split_once('=')?;
    if !lexer::valid_name(name) {
        return None;
    }
    let mut parts = word.parts.clone();
    if value.is_empty() {
        parts.remove(0);
    } else {
        parts[0] = Part::Lit(value.into());
    }
    Some((name.into(), Word { parts, quoted: true }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &Command) -> Vec<String> {
        command.words.iter().map(|w| w.literal().unwrap()).collect()
    }

    #[test]
    fn lists_pipelines_and_redirections() {
        let script = parse("a 1; b | c 2>&1 >out && ! d <in || e >>log\n\nf").unwrap();
        assert_eq!(script.lists.len(), 3);
        assert_eq!(words(&script.lists[0].first.commands[0]), ["a", "1"]);
        let second = &script.lists[1];
        assert_eq!(second.first.commands.len(), 2);
        let c = &second.first.commands[1];
        assert_eq!(words(c), ["c"]);
        assert_eq!(c.redirections.len(), 2);
        assert_eq!((c.redirections[0].fd, c.redirections[0].kind), (2, RedirKind::Dup));
        assert_eq!((c.redirections[1].fd, c.redirections[1].kind), (1, RedirKind::Write));
        assert_eq!(second.rest[0].0, Connector::And);
        assert!(second.rest[0].1.negated);
        assert_eq!(second.rest[0].1.commands[0].redirections[0].kind, RedirKind::Read);
        assert_eq!(second.rest[1].0, Connector::Or);
        assert_eq!(second.rest[1].1.commands[0].redirections[0].kind, RedirKind::Append);
        assert_eq!(words(&script.lists[2].first.commands[0]), ["f"]);
    }

    #[test]
    fn assignments_come_before_the_name() {
        let script = parse("A=1 B= cmd C=3").unwrap();
        let command = &script.lists[0].first.commands[0];
        let names: Vec<&str> = command.assignments.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(command.assignments[0].1.literal().as_deref(), Some("1"));
        assert_eq!(command.assignments[1].1.literal().as_deref(), Some(""));
        assert_eq!(words(command), ["cmd", "C=3"]);
    }

    #[test]
    fn empty_and_incomplete_scripts() {
        assert_eq!(parse("").unwrap(), Script::default());
        assert_eq!(parse(" ;\n# only a comment\n").unwrap(), Script::default());
        for text in ["a |", "a &&", "a ||\n", "echo 'x"] {
            assert_eq!(parse(text), Err(ParseError::Incomplete), "{text}");
        }
        for text in ["a & b", "| a", "a | | b", "a >", "a > | b", "a && ; b"] {
            assert!(matches!(parse(text), Err(ParseError::Syntax(_))), "{text}: {:?}", parse(text));
        }
    }
}
