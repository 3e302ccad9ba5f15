//! The preprocessor: turns a config file and everything it includes into located lines of
//! words, applying keepalived.conf(5) "ADVANCED CONFIGURATION" on the way:
//!
//! - `include PATTERN` with globs and `{a,b}` brace expansion, relative to the including
//!   file's directory; loops and runaway nesting are detected;
//! - `@ID line` / `@^ID line` conditional lines, compared with the config id;
//! - `$NAME=value` definitions (multi-line with a trailing `\`), replaced as `$NAME` (followed
//!   by whitespace) or `${NAME}`, recursively at replacement time; undefined names stay as
//!   written; the built-ins `${_PWD}`, `${_INSTANCE}`, `${_RANDOM [MIN [MAX]]}`, `${_HASH}`,
//!   `${_BANG}`;
//! - `~SEQ(var, [start, [step,]] end)`, `~SEQx(...)` and `~LST(var, v1, v2, ...)` /
//!   `~LST({a, b}, {1, 2}, ...)` line repetition.
//!
//! Hostile input is bounded: file size, total size, include depth, expansion depth and the
//! number of lines produced all have limits, and every limit hit is a located error.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diag::Diagnostics;
use super::lexer::{lex_line, LexError};
use super::source::{Loc, SourceMap};
pub use files::expand_braces;
use files::is_checking_include;

/// A word of the configuration with the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub loc: Loc,
    pub quoted: bool,
}

impl Word {
    pub fn is_open(&self) -> bool {
        !self.quoted && self.text == "{"
    }
    pub fn is_close(&self) -> bool {
        !self.quoted && self.text == "}"
    }
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_include_depth: usize,
    /// Nesting of definition replacement, conditionals and repetition within one line.
    pub max_expansion_depth: usize,
    pub max_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 64 << 20,
            max_total_bytes: 256 << 20,
            max_include_depth: 32,
            max_expansion_depth: 64,
            max_lines: 2_000_000,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Compared with `@ID` lines (`-i/--config-id`; default: host name up to the first dot).
    pub config_id: String,
    /// `${_RANDOM}` seed, so that tests are repeatable.
    pub random_seed: u64,
    pub limits: Limits,
}

/// Everything read: the lines (each a non-empty list of words) and the files they came from.
#[derive(Debug, Default)]
pub struct Source {
    pub lines: Vec<Vec<Word>>,
    pub map: SourceMap,
}

/// Private-use characters standing in for `#` and `!` produced by `${_HASH}` / `${_BANG}`
/// until the line is split into words, so they are data and do not start a comment.
const HASH_MARK: char = '\u{f8f0}';
const BANG_MARK: char = '\u{f8f1}';

/// Where preprocessed lines go, one non-empty line of words at a time.
pub type Sink<'s> = dyn FnMut(Vec<Word>, &mut Diagnostics) + 's;

/// Reads the configuration in `path` (or, when `given`, that content under `path`'s name,
/// which also anchors relative includes) and everything it includes, handing each line to
/// `sink` as it is produced. Returns the files read.
pub fn preprocess_into(
    path: &Path,
    given: Option<&[u8]>,
    opts: &Options,
    diags: &mut Diagnostics,
    sink: &mut Sink<'_>,
) -> SourceMap {
    let mut pre = Pre {
        opts,
        diags,
        sink,
        map: SourceMap::default(),
        lines_out: 0,
        defs: HashMap::new(),
        stack: Vec::new(),
        pwd: String::new(),
        total_bytes: 0,
        rng: opts.random_seed | 1,
        stopped: false,
    };
    pre.file(path, None, given);
    pre.map
}

/// All the lines of `path` at once (for tests and small inputs).
pub fn preprocess(path: &Path, opts: &Options, diags: &mut Diagnostics) -> Source {
    let mut lines = Vec::new();
    let map = preprocess_into(path, None, opts, diags, &mut |l, _| lines.push(l));
    Source { lines, map }
}

struct Pre<'a, 's> {
    opts: &'a Options,
    diags: &'a mut Diagnostics,
    sink: &'a mut Sink<'s>,
    map: SourceMap,
    /// Lines handed to the sink so far, against [`Limits::max_lines`].
    lines_out: usize,
    defs: HashMap<String, String>,
    /// Canonical paths of the files being read, outermost first: include loop detection.
    stack: Vec<PathBuf>,
    /// `${_PWD}`: directory of the file being read.
    pwd: String,
    total_bytes: u64,
    rng: u64,
    /// A fatal limit was hit: stop producing lines.
    stopped: bool,
}

impl Pre<'_, '_> {
    /// Reads `path` (or takes `given` as its content) and everything it includes.
    fn file(&mut self, path: &Path, from: Option<Loc>, given: Option<&[u8]>) {
        if self.stopped {
            return;
        }
        if self.stack.len() >= self.opts.limits.max_include_depth {
            self.diags
                .error(
                    from,
                    format!("include of '{}' nested too deeply", path.display()),
                )
                .expected(format!(
                    "at most {} levels of include",
                    self.opts.limits.max_include_depth
                ));
            return;
        }
        let file = self.map.add(path);
        let text = match given {
            Some(bytes) => self.decode(path, bytes.to_vec(), from, file),
            None => self.read(path, from, file),
        };
        let Some(text) = text else {
            return;
        };
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        if self.stack.contains(&canonical) {
            self.diags
                .error(
                    from,
                    format!("include loop: '{}' includes itself", path.display()),
                )
                .expected("each file included at most once on any include chain");
            return;
        }
        let dir = canonical.parent().unwrap_or(Path::new("/")).to_path_buf();
        let saved_pwd = std::mem::replace(&mut self.pwd, dir.display().to_string());
        self.stack.push(canonical);

        let mut lines = text.lines().enumerate().peekable();
        while let Some((idx, raw)) = lines.next() {
            if self.stopped {
                break;
            }
            let line_no = u32::try_from(idx + 1).unwrap_or(u32::MAX);
            let mut code = strip_comment(raw).to_string();
            // A definition ending in `\` continues on the next lines.
            if is_definition(code.trim_start()) && code.trim_end().ends_with('\\') {
                while code.trim_end().ends_with('\\') {
                    let trimmed = code.trim_end();
                    code.truncate(trimmed.len() - 1);
                    code.push('\n');
                    match lines.next() {
                        Some((_, next)) => code.push_str(strip_comment(next)),
                        None => break,
                    }
                }
            }
            self.logical(&code, file, line_no, 0);
        }

        self.stack.pop();
        self.pwd = saved_pwd;
    }

    /// One logical line: conditional, definition, repetition, replacement, then words.
    fn logical(&mut self, text: &str, file: u32, line: u32, depth: usize) {
        if self.stopped {
            return;
        }
        let loc = |col: usize| Loc {
            file,
            line,
            col: u32::try_from(col + 1).unwrap_or(u32::MAX),
        };
        if depth > self.opts.limits.max_expansion_depth {
            self.diags
                .error(Some(loc(0)), "definitions or repetitions expand too deeply")
                .expected(format!(
                    "at most {} nested expansions (is a definition recursive?)",
                    self.opts.limits.max_expansion_depth
                ));
            self.stopped = true;
            return;
        }
        let trimmed = text.trim_start();
        let indent = text.len() - trimmed.len();
        if trimmed.is_empty() {
            return;
        }

        if let Some(rest) = trimmed.strip_prefix('@') {
            let (negate, rest) = match rest.strip_prefix('^') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            let id_len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let (id, body) = rest.split_at(id_len);
            if (id == self.opts.config_id) != negate {
                let pad = " ".repeat(text.len() - body.len());
                self.logical(&format!("{pad}{body}"), file, line, depth + 1);
            }
            return;
        }

        if is_definition(trimmed) {
            let eq = trimmed.find('=').unwrap_or(0);
            let name = trimmed[1..eq].to_string();
            let value = trimmed[eq + 1..].trim().to_string();
            self.defs.insert(name, value);
            return;
        }

        if trimmed.starts_with("~SEQ") || trimmed.starts_with("~LST") {
            self.repeat(trimmed, indent, file, line, depth);
            return;
        }

        if trimmed.contains('$') {
            let replaced = self.replace(trimmed);
            if replaced != trimmed {
                for sub in replaced.split('\n') {
                    let pad = " ".repeat(indent);
                    self.logical(&format!("{pad}{sub}"), file, line, depth + 1);
                }
                return;
            }
        }

        self.words(text, file, line);
    }

    fn words(&mut self, text: &str, file: u32, line: u32) {
        let (raw, err) = lex_line(text);
        if let Some(LexError::UnterminatedQuote { col }) = err {
            self.diags
                .warn(Some(Loc { file, line, col }), "unterminated quoted string")
                .expected("a closing quote on the same line")
                .fallback("ignoring the unterminated string");
        }
        if raw.is_empty() {
            return;
        }
        let words: Vec<Word> = raw
            .into_iter()
            .map(|w| Word {
                text: if w.text.contains([HASH_MARK, BANG_MARK]) {
                    w.text.replace(HASH_MARK, "#").replace(BANG_MARK, "!")
                } else {
                    w.text
                },
                loc: Loc {
                    file,
                    line,
                    col: w.col,
                },
                quoted: w.quoted,
            })
            .collect();

        // `includer`, `includem`, `includew`, `includeb` and `includea` are keepalived's
        // checking variants; ha always reports what they check (missing files, non-regular
        // files) as warnings, so they include like `include`.
        let kw = words[0].text.as_str();
        if !words[0].quoted && (kw == "include" || is_checking_include(kw)) {
            // The pattern is the raw rest of the line: `{a,b}` in it is brace expansion,
            // not a block.
            let pattern = text.trim_start()[kw.len()..].trim();
            let pattern = pattern.trim_matches(|c| c == '"' || c == '\'');
            self.include(words[0].loc, words.get(1).map(|w| w.loc), pattern);
            return;
        }
        if self.lines_out >= self.opts.limits.max_lines {
            self.diags
                .error(
                    Some(words[0].loc),
                    "configuration expands to too many lines",
                )
                .expected(format!("at most {} lines", self.opts.limits.max_lines));
            self.stopped = true;
            return;
        }
        self.lines_out += 1;
        (self.sink)(words, self.diags);
    }

    /// One pass of definition replacement over a line (the caller repeats it).
    fn replace(&mut self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 1..];
            if let Some(inner) = after.strip_prefix('{') {
                if let Some(end) = inner.find('}') {
                    let name = &inner[..end];
                    if let Some(v) = self.lookup(name) {
                        out.push_str(&v);
                        rest = &inner[end + 1..];
                        continue;
                    }
                }
            } else {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let name = &after[..len];
                // keepalived replaces `$NAME` only before a blank, `,`, `)` or the line end.
                let ends_word = after[len..]
                    .chars()
                    .next()
                    .is_none_or(|c| c == ' ' || c == '\t' || c == ',' || c == ')');
                if len > 0 && ends_word {
                    if let Some(v) = self.lookup(name) {
                        out.push_str(&v);
                        rest = &after[len..];
                        continue;
                    }
                }
            }
            out.push('$');
            rest = after;
        }
        out.push_str(rest);
        out
    }

    fn lookup(&mut self, name: &str) -> Option<String> {
        match name {
            "_PWD" => Some(self.pwd.clone()),
            "_INSTANCE" => Some(self.opts.config_id.clone()),
            "_HASH" => Some(HASH_MARK.to_string()),
            "_BANG" => Some(BANG_MARK.to_string()),
            _ if name == "_RANDOM" || name.starts_with("_RANDOM ") => {
                let mut args = name.split_whitespace().skip(1).map(str::parse::<u64>);
                let min = args.next().and_then(Result::ok).unwrap_or(0);
                let max = args.next().and_then(Result::ok).unwrap_or(32767).max(min);
                Some((min + self.next_random() % (max - min + 1)).to_string())
            }
            _ => self.defs.get(name).cloned(),
        }
    }

    /// xorshift64: `${_RANDOM}` need not be strong, only repeatable under a seed.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

/// The part of a line before a `#` or `!` that is outside quotes.
pub fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#' | '!') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// `$NAME=...` with a valid name (letters, digits, `_`, not starting with a digit).
fn is_definition(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('$') else {
        return false;
    };
    let Some(eq) = rest.find('=') else {
        return false;
    };
    let name = &rest[..eq];
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

mod files;
mod repeat;

#[cfg(test)]
mod tests;
