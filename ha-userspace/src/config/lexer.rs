//! Splits one config line into words, as keepalived 2.2.7's reader (`alloc_strvec_r`) does.
//!
//! - Words are separated by whitespace (space, tab, `\f`, `\v`, `\r`, `\n`).
//! - `#` and `!` outside a double-quoted string start a comment, anywhere in the line, even
//!   inside a word (`foo#bar` is `foo`).
//! - `{` and `}` outside quotes are words of their own even when glued to another word
//!   (`vrrp_instance VI_1{`), so whole blocks can sit on one line.
//! - `"` starts a quoted word that runs to the next `"`, taken literally: no escapes are
//!   decoded (keepalived.conf(5) lists shell escapes, but 2.2.7 decodes them only in script
//!   command lines, see [`crate::config::model::script`]). A `"` inside a word ends that word:
//!   `a"b c"d` is the three words `a`, `b c`, `d`. Single quotes are ordinary characters here.
//! - An undefined `${NAME}` (left in place by the preprocessor) stays one word, braces and all.

/// One word of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawWord {
    pub text: String,
    /// 1-based column (in characters) where the word starts.
    pub col: u32,
    /// The word was written as a quoted string, so `{` or `}` as its text are data.
    pub quoted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexError {
    /// A `"` without its closing partner; column of the opening quote.
    UnterminatedQuote { col: u32 },
}

/// Splits `line` into words. On an unterminated quote the words before it are returned with
/// the error, so the caller can report it and carry on as keepalived does (the unterminated
/// string is dropped).
pub fn lex_line(line: &str) -> (Vec<RawWord>, Option<LexError>) {
    let mut words = Vec::new();
    let mut chars = line.chars();
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
            '"' => {
                flush!();
                let start = col;
                let mut text = String::new();
                let mut closed = false;
                for q in chars.by_ref() {
                    col += 1;
                    if q == '"' {
                        closed = true;
                        break;
                    }
                    text.push(q);
                }
                if !closed {
                    return (words, Some(LexError::UnterminatedQuote { col: start }));
                }
                words.push(RawWord {
                    text,
                    col: start,
                    quoted: true,
                });
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
        assert_eq!(texts("a\u{b}b\u{c}c"), ["a", "b", "c"]);
    }

    #[test]
    fn comments_start_anywhere_outside_double_quotes() {
        assert_eq!(texts("priority 100 # main"), ["priority", "100"]);
        assert_eq!(texts("priority 100! main"), ["priority", "100"]);
        assert_eq!(texts("router_id foo#bar"), ["router_id", "foo"]);
        assert_eq!(texts("! whole line"), Vec::<String>::new());
        assert_eq!(texts(r#"script "/bin/x # y""#), ["script", "/bin/x # y"]);
        assert_eq!(texts("x '1#2'"), ["x", "'1"]);
    }

    #[test]
    fn quoted_words_are_literal_and_split_words() {
        let (w, e) = lex_line(r#"script "a\tb\n\x41 {}""#);
        assert!(e.is_none());
        assert_eq!(w[1].text, r"a\tb\n\x41 {}");
        assert!(w[1].quoted);
        assert_eq!(w[1].col, 8);
        assert_eq!(texts(r#"a"b c"d"#), ["a", "b c", "d"]);
        assert_eq!(
            texts(r#"script "/bin/chk 'a b' c""#),
            ["script", "/bin/chk 'a b' c"]
        );
        assert_eq!(texts("'kw 2' x"), ["'kw", "2'", "x"]);
        let (w, _) = lex_line(r#"x "{" "#);
        assert!(w[1].quoted && w[1].text == "{");
    }

    #[test]
    fn undefined_parameters_keep_their_braces() {
        assert_eq!(texts("a ${UNDEF}.x {"), ["a", "${UNDEF}.x", "{"]);
    }

    #[test]
    fn unterminated_quote_drops_the_string_and_is_reported() {
        let (w, e) = lex_line(r#"bogus "abc"#);
        assert_eq!(w.len(), 1);
        assert_eq!(e, Some(LexError::UnterminatedQuote { col: 7 }));
    }

    #[test]
    fn columns_are_one_based() {
        let (w, _) = lex_line("\tpriority  100");
        assert_eq!((w[0].col, w[1].col), (2, 12));
    }
}
