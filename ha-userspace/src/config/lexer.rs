//! Splits one config line into words, the way keepalived's `alloc_strvec` does.
//!
//! - Words are separated by whitespace.
//! - `#` and `!` outside a quoted string start a comment that runs to the end of the line.
//! - `{` and `}` outside quotes are words of their own even when glued to another word
//!   (`vrrp_instance VI_1{`), so whole blocks can sit on one line.
//! - A `"` or `'` starts a quoted part of a word, which may hold spaces, comment characters,
//!   braces and the other quote character, and ends at the next unescaped quote of the same
//!   kind; quotes can sit mid-word (`ab" c "d` is the one word `ab c d`). Inside quotes the
//!   shell-like escapes of keepalived.conf(5) "Quoted strings" are decoded (see [`unescape`]).

use std::iter::Peekable;
use std::str::Chars;

/// One word of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawWord {
    pub text: String,
    /// 1-based column (in characters) where the word starts.
    pub col: u32,
    /// The word was (at least partly) written as a quoted string, so `{`, `}`, `#`
    /// inside it are data.
    pub quoted: bool,
}

impl RawWord {
    pub fn is_open(&self) -> bool {
        !self.quoted && self.text == "{"
    }
    pub fn is_close(&self) -> bool {
        !self.quoted && self.text == "}"
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A `"` without its closing partner; column of the opening quote.
    UnterminatedQuote { col: u32 },
}

/// Splits `line` into words. On an unterminated quote the words before the unterminated one
/// are returned alongside the error, so the caller can report it and carry on as keepalived
/// does (the unterminated word is dropped).
pub fn lex_line(line: &str) -> (Vec<RawWord>, Option<LexError>) {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    let mut col: u32 = 0;
    let mut cur: Option<RawWord> = None;

    macro_rules! flush {
        () => {
            if let Some(w) = cur.take() {
                words.push(w);
            }
        };
    }

    while let Some(c) = chars.next() {
        col += 1;
        match c {
            c if c.is_whitespace() => flush!(),
            '#' | '!' => break,
            // An undefined `${NAME}` stays in the text as written, braces and all.
            '{' if cur.as_ref().is_some_and(|w| w.text.ends_with('$')) => {
                let w = cur.as_mut().expect("checked above");
                w.text.push('{');
                for n in chars.by_ref() {
                    col += 1;
                    w.text.push(n);
                    if n == '}' {
                        break;
                    }
                }
            }
            '{' | '}' => {
                flush!();
                words.push(RawWord {
                    text: c.to_string(),
                    col,
                    quoted: false,
                });
            }
            '"' | '\'' => {
                let start = col;
                let w = cur.get_or_insert_with(|| RawWord {
                    text: String::new(),
                    col: start,
                    quoted: true,
                });
                w.quoted = true;
                let mut closed = false;
                while let Some(q) = chars.next() {
                    col += 1;
                    if q == c {
                        closed = true;
                        break;
                    }
                    if q == '\\' {
                        match unescape(&mut chars, &mut col) {
                            Some(e) => w.text.push(e),
                            None => w.text.push('\\'),
                        }
                    } else {
                        w.text.push(q);
                    }
                }
                if !closed {
                    // keepalived drops the unterminated word ("Unmatched quote").
                    return (words, Some(LexError::UnterminatedQuote { col: start }));
                }
            }
            other => {
                let start = col;
                cur.get_or_insert_with(|| RawWord {
                    text: String::new(),
                    col: start,
                    quoted: false,
                })
                .text
                .push(other);
            }
        }
    }
    flush!();
    (words, None)
}

/// Decodes the escape after a `\` inside quotes, as keepalived.conf(5) lists them: `\a \b
/// \E \f \n \r \t \v`, `\nnn` (up to three octal digits), `\xXX` (hex digits), `\cC` (control
/// character) and `\C` for any other C. `None` when the line ends after the backslash.
fn unescape(chars: &mut Peekable<Chars<'_>>, col: &mut u32) -> Option<char> {
    let e = chars.next()?;
    *col += 1;
    let simple = match e {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'E' => Some('\u{1b}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        _ => None,
    };
    if simple.is_some() {
        return simple;
    }
    let mut take_digits = |first: u32, radix: u32, max: usize| {
        let mut v = first;
        let mut n = 0;
        while n < max {
            match chars.peek().and_then(|d| d.to_digit(radix)) {
                Some(d) => {
                    v = v.wrapping_mul(radix).wrapping_add(d);
                    chars.next();
                    *col += 1;
                    n += 1;
                }
                None => break,
            }
        }
        char::from((v & 0xff) as u8)
    };
    Some(match e {
        '0'..='7' => take_digits(e.to_digit(8).unwrap_or(0), 8, 2),
        'x' => take_digits(0, 16, usize::MAX),
        'c' => match chars.next() {
            Some(c) => {
                *col += 1;
                char::from((c as u32 & 0x1f) as u8)
            }
            None => 'c',
        },
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(line: &str) -> Vec<String> {
        lex_line(line).0.into_iter().map(|w| w.text).collect()
    }

    #[test]
    fn splits_words_and_braces() {
        assert_eq!(texts("vrrp_instance VI_1{"), ["vrrp_instance", "VI_1", "{"]);
        assert_eq!(texts("  a { b c }  d"), ["a", "{", "b", "c", "}", "d"]);
    }

    #[test]
    fn comments_start_anywhere_outside_quotes() {
        assert_eq!(texts("priority 100 # main"), ["priority", "100"]);
        assert_eq!(texts("priority 100! main"), ["priority", "100"]);
        assert_eq!(texts("! whole line"), Vec::<String>::new());
        assert_eq!(texts(r#"script "/bin/x # y""#), ["script", "/bin/x # y"]);
    }

    #[test]
    fn quoted_strings_and_escapes() {
        let (w, e) = lex_line(r#"script "a \"b\" \\ \n c\q""#);
        assert!(e.is_none());
        assert_eq!(w[1].text, "a \"b\" \\ \n cq");
        assert!(w[1].quoted);
        assert_eq!(w[1].col, 8);
        let (w, _) = lex_line(r#"x "{" "#);
        assert!(!w[1].is_open());
    }

    #[test]
    fn quotes_join_mid_word_and_keep_the_other_quote() {
        assert_eq!(texts(r#"abcd" efg h jkl "mnop"#), ["abcd efg h jkl mnop"]);
        assert_eq!(
            texts(r#"abcd "efg h jkl" mnop"#),
            ["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(
            texts(r#"script "/bin/chk 'a b' c""#),
            ["script", "/bin/chk 'a b' c"]
        );
        assert_eq!(texts(r#"x 'say "hi"'"#), ["x", "say \"hi\""]);
    }

    #[test]
    fn numeric_and_control_escapes() {
        assert_eq!(texts(r#""\101\x42\cA\E""#), ["AB\u{1}\u{1b}"]);
    }

    #[test]
    fn undefined_parameters_keep_their_braces() {
        assert_eq!(texts("a ${UNDEF}.x {"), ["a", "${UNDEF}.x", "{"]);
    }

    #[test]
    fn unterminated_quote_is_reported_with_its_column() {
        let (w, e) = lex_line(r#"script "abc"#);
        assert_eq!(w.len(), 1);
        assert_eq!(e, Some(LexError::UnterminatedQuote { col: 8 }));
    }

    #[test]
    fn columns_are_one_based() {
        let (w, _) = lex_line("\tpriority  100");
        assert_eq!((w[0].col, w[1].col), (2, 12));
    }
}
