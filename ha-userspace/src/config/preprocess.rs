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
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::diag::Diagnostics;
use super::lexer::{lex_line, LexError};
use super::source::{Loc, SourceMap};

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

pub fn preprocess(path: &Path, opts: &Options, diags: &mut Diagnostics) -> Source {
    let mut pre = Pre::new(opts, diags);
    pre.file(path, None, None);
    pre.out
}

/// Like [`preprocess`] with the main file's content given (`path` names it in messages and
/// anchors relative includes). Used by the fuzzer and by tools that already hold the text.
pub fn preprocess_bytes(
    path: &Path,
    bytes: &[u8],
    opts: &Options,
    diags: &mut Diagnostics,
) -> Source {
    let mut pre = Pre::new(opts, diags);
    pre.file(path, None, Some(bytes));
    pre.out
}

impl<'a> Pre<'a> {
    fn new(opts: &'a Options, diags: &'a mut Diagnostics) -> Self {
        Pre {
            opts,
            diags,
            out: Source::default(),
            defs: HashMap::new(),
            stack: Vec::new(),
            pwd: String::new(),
            total_bytes: 0,
            rng: opts.random_seed | 1,
            stopped: false,
        }
    }
}

struct Pre<'a> {
    opts: &'a Options,
    diags: &'a mut Diagnostics,
    out: Source,
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

impl Pre<'_> {
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
        let file = self.out.map.add(path);
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

    /// Reads a whole config file, refusing what cannot be a config file.
    fn read(&mut self, path: &Path, from: Option<Loc>, file: u32) -> Option<String> {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let msg = format!("cannot read config file '{shown}': {e}");
                match from {
                    // keepalived only notes a missing include and carries on; a missing
                    // main file is an error here (keepalived -t wrongly exits 0 for it).
                    Some(_) => self.diags.warn(from, msg).fallback("skipping it"),
                    None => self.diags.error(None, msg),
                };
                return None;
            }
        };
        if !meta.is_file() {
            let msg = format!("config file '{shown}' is not a regular file");
            match from {
                Some(_) => self.diags.warn(from, msg).fallback("skipping it"),
                None => self.diags.error(None, msg),
            };
            return None;
        }
        if from.is_some() && meta.permissions().mode() & 0o111 != 0 {
            // keepalived refuses executable config files ("not a regular non-executable file").
            self.diags
                .warn(from, format!("config file '{shown}' is executable"))
                .expected("a non-executable file")
                .fallback("skipping it, as keepalived does");
            return None;
        }
        let limit = self.opts.limits.max_file_bytes;
        if meta.len() > limit {
            self.diags
                .error(
                    from,
                    format!("config file '{shown}' is {} bytes", meta.len()),
                )
                .expected(format!("at most {limit} bytes"));
            return None;
        }
        let mut bytes = Vec::new();
        let read = File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes));
        if let Err(e) = read {
            self.diags
                .error(from, format!("cannot read config file '{shown}': {e}"));
            return None;
        }
        self.decode(path, bytes, from, file)
    }

    /// Size accounting, binary detection and decoding of a file's content.
    fn decode(
        &mut self,
        path: &Path,
        bytes: Vec<u8>,
        from: Option<Loc>,
        file: u32,
    ) -> Option<String> {
        let shown = path.display();
        let limit = self.opts.limits.max_file_bytes;
        if bytes.len() as u64 > limit {
            self.diags
                .error(
                    from,
                    format!("config file '{shown}' is {} bytes", bytes.len()),
                )
                .expected(format!("at most {limit} bytes"));
            return None;
        }
        self.total_bytes += bytes.len() as u64;
        if self.total_bytes > self.opts.limits.max_total_bytes {
            self.diags
                .error(from, "configuration with its includes is too large")
                .expected(format!(
                    "at most {} bytes in all",
                    self.opts.limits.max_total_bytes
                ));
            self.stopped = true;
            return None;
        }
        if let Some(pos) = bytes.iter().position(|&b| b == 0) {
            let line_start = bytes[..pos]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let line = bytes[..pos].iter().filter(|&&b| b == b'\n').count() + 1;
            let at = Loc {
                file,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                col: u32::try_from(pos - line_start + 1).unwrap_or(u32::MAX),
            };
            self.diags
                .error(
                    Some(at),
                    format!("config file '{shown}' holds binary data (a NUL byte on line {line})"),
                )
                .expected("a text file");
            return None;
        }
        // keepalived reads bytes; a stray Latin-1 comment must not stop the config.
        Some(String::from_utf8_lossy(&bytes).into_owned())
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
        if self.out.lines.len() >= self.opts.limits.max_lines {
            self.diags
                .error(
                    Some(words[0].loc),
                    "configuration expands to too many lines",
                )
                .expected(format!("at most {} lines", self.opts.limits.max_lines));
            self.stopped = true;
            return;
        }
        self.out.lines.push(words);
    }

    fn include(&mut self, at: Loc, pattern_at: Option<Loc>, pattern: &str) {
        let Some(pattern_loc) = pattern_at.filter(|_| !pattern.is_empty()) else {
            self.diags
                .warn(Some(at), "'include' without a file name")
                .expected("include PATH-OR-GLOB")
                .fallback("ignoring it");
            return;
        };
        let base = Path::new(&self.pwd).to_path_buf();
        let mut found = Vec::new();
        for pat in expand_braces(pattern) {
            let full = if Path::new(&pat).is_absolute() {
                pat
            } else {
                base.join(&pat).display().to_string()
            };
            if !has_glob_chars(&full) {
                found.push(PathBuf::from(full));
                continue;
            }
            match glob::glob(&full) {
                Ok(paths) => {
                    let mut matched: Vec<PathBuf> = paths.filter_map(Result::ok).collect();
                    matched.sort();
                    found.extend(matched);
                }
                Err(e) => {
                    self.diags
                        .warn(
                            Some(pattern_loc),
                            format!("bad include pattern '{full}': {e}"),
                        )
                        .fallback("ignoring it");
                }
            }
        }
        // A glob that matches nothing is not a mistake (an empty conf.d); keepalived agrees.
        for path in found {
            self.file(&path, Some(pattern_loc), None);
        }
    }

    /// `~SEQ(...)`, `~SEQx(...)` and `~LST(...)`: the rest of the line once per value.
    fn repeat(&mut self, text: &str, indent: usize, file: u32, line: u32, depth: usize) {
        let loc = Loc {
            file,
            line,
            col: u32::try_from(indent + 1).unwrap_or(u32::MAX),
        };
        // Blanks may separate the name from its '(' (`~SEQ (i, 1)`).
        let open = |name: &str| {
            text.strip_prefix(name)
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('('))
        };
        let (kind, after) = if let Some(r) = open("~SEQx") {
            ("~SEQx", r)
        } else if let Some(r) = open("~SEQ") {
            ("~SEQ", r)
        } else if let Some(r) = open("~LST") {
            ("~LST", r)
        } else {
            self.diags
                .warn(
                    Some(loc),
                    format!("unknown repetition '{}'", first_word(text)),
                )
                .expected("~SEQ(...), ~SEQx(...) or ~LST(...)")
                .fallback("ignoring the line");
            return;
        };
        let Some(close) = matching_paren(after) else {
            self.diags
                .warn(Some(loc), format!("{kind}( without its closing ')'"))
                .fallback("ignoring the line");
            return;
        };
        let spec = &after[..close];
        let body = &after[close + 1..];
        let seq = match kind {
            "~LST" => parse_lst(spec),
            // Definitions in the bounds are replaced first (`~SEQ(i, $COUNT)`).
            _ => parse_seq(&self.replace(spec), kind == "~SEQx"),
        };
        let seq = match seq {
            Ok(r) => r,
            Err(why) => {
                self.diags
                    .warn(Some(loc), format!("bad {kind}({spec}): {why}"))
                    .fallback("ignoring the line");
                return;
            }
        };
        let pad = " ".repeat(text.len() - body.len() + indent);
        let line_text = format!("{pad}{body}");
        for (vars, values) in seq {
            if self.stopped {
                return;
            }
            for (var, value) in vars.iter().zip(values) {
                self.defs.insert(var.clone(), value);
            }
            self.logical(&line_text, file, line, depth + 1);
        }
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

fn is_checking_include(kw: &str) -> bool {
    matches!(
        kw,
        "includer" | "includem" | "includew" | "includeb" | "includea"
    )
}

fn first_word(s: &str) -> &str {
    s.split_whitespace().next().unwrap_or("")
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Index of the `)` closing a `(` already consumed, skipping nested `{...}`/`(...)`.
fn matching_paren(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '(' | '{' => depth += 1,
            '}' => depth -= 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Shell-style brace expansion, as glob(3) with GLOB_BRACE does: `a{b,c}d` → `abd`, `acd`.
pub fn expand_braces(pattern: &str) -> Vec<String> {
    let bytes = pattern.as_bytes();
    let Some(open) = pattern.find('{') else {
        return vec![pattern.to_string()];
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![pattern.to_string()];
    };
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    let mut cuts = vec![open];
    cuts.extend(commas);
    cuts.push(close);
    let mut out = Vec::new();
    for pair in cuts.windows(2) {
        let alt = &pattern[pair[0] + 1..pair[1]];
        out.extend(expand_braces(&format!("{head}{alt}{tail}")));
    }
    out
}

/// The assignments of one repetition: per iteration, the variables and their values.
type Rows = Box<dyn Iterator<Item = (Vec<String>, Vec<String>)>>;

/// Splits `a, {b, c}, d` at top-level commas.
fn split_top(spec: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in spec.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    parts.push(cur.trim().to_string());
    parts
}

fn braced_list(s: &str) -> Vec<String> {
    let inner = s
        .strip_prefix('{')
        .and_then(|r| r.strip_suffix('}'))
        .unwrap_or(s);
    inner.split(',').map(|p| p.trim().to_string()).collect()
}

/// `~LST(var, v1, v2...)` or `~LST({a, b}, {1, 2}, {3, 4})`.
fn parse_lst(spec: &str) -> Result<Rows, String> {
    let parts = split_top(spec);
    let vars = braced_list(&parts[0]);
    if vars.iter().any(|v| !is_name(v)) {
        return Err(format!("'{}' is not a variable name", parts[0]));
    }
    if parts.len() < 2 {
        return Err("no values".into());
    }
    let rows = parts[1..]
        .iter()
        .map(|p| {
            let mut values = braced_list(p);
            if values.len() > vars.len() {
                return Err(format!(
                    "'{p}' has {} values for {} variables",
                    values.len(),
                    vars.len()
                ));
            }
            // Missing values are empty, as in keepalived (`{5}` for two variables).
            values.resize(vars.len(), String::new());
            Ok((vars.clone(), values))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(rows.into_iter()))
}

/// `~SEQ(var, end)`, `~SEQ(var, start, end)`, `~SEQ(var, start, step, end)` (the step is
/// the middle argument, as keepalived 2.2.7 reads it).
fn parse_seq(spec: &str, hex: bool) -> Result<Rows, String> {
    const MAX_ITERATIONS: i64 = 1_000_000;
    let parts = split_top(spec);
    let var = parts[0].clone();
    if !is_name(&var) {
        return Err(format!("'{var}' is not a variable name"));
    }
    let nums: Vec<i64> = parts[1..]
        .iter()
        .map(|p| parse_i64(p).ok_or_else(|| format!("'{p}' is not a number")))
        .collect::<Result<_, _>>()?;
    let (start, step, end) = match nums[..] {
        [end] => {
            let start = if end < 0 { -1 } else { 1 };
            (start, if end < start { -1 } else { 1 }, end)
        }
        [start, end] => (start, if end < start { -1 } else { 1 }, end),
        [start, step, end] => (start, step, end),
        _ => return Err("expected 1 to 3 numbers after the variable".into()),
    };
    if step == 0 {
        return Err("step is 0".into());
    }
    if (end - start).signum() * step.signum() < 0 {
        return Err(format!("step {step} never reaches {end} from {start}"));
    }
    if hex && (start < 0 || end < 0) {
        return Err("~SEQx is only valid for positive numbers".into());
    }
    let count = (end - start) / step + 1;
    if count > MAX_ITERATIONS {
        return Err(format!("{count} iterations (at most {MAX_ITERATIONS})"));
    }
    // Lazy: nested repetitions must not build their whole range once per outer value.
    let values = (0..count.max(0)).map(move |i| {
        let v = start + i * step;
        let text = if hex { format!("{v:x}") } else { v.to_string() };
        (vec![var.clone()], vec![text])
    });
    Ok(Box::new(values))
}

/// A number as C's `strtol(s, .., 0)` reads it: decimal, `0x` hex or `0` octal, signed.
fn parse_i64(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        i64::from_str_radix(h, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests;
