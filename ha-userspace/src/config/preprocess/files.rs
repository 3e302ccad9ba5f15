//! Reading config files and `include`: size and binary checks, globs, `{a,b}` brace
//! expansion, paths relative to the including file.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Loc, Pre};

impl Pre<'_, '_> {
    /// Reads a whole config file, refusing what cannot be a config file.
    pub(super) fn read(&mut self, path: &Path, from: Option<Loc>, file: u32) -> Option<String> {
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
    pub(super) fn decode(
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
        Some(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    pub(super) fn include(&mut self, at: Loc, pattern_at: Option<Loc>, pattern: &str) {
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
}

pub(super) fn is_checking_include(kw: &str) -> bool {
    matches!(
        kw,
        "includer" | "includem" | "includew" | "includeb" | "includea"
    )
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
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
