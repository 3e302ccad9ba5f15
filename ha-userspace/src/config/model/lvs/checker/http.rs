//! `HTTP_GET` and `SSL_GET` (keepalived.conf(5), "HTTP and SSL healthcheckers"): GET each
//! `url` and check the status code, the MD5 digest of the body and/or a PCRE2 regex.

use serde::Serialize;

use super::CommonSet;
use crate::config::ctx::Ctx;
use crate::config::model::lvs::read;
use crate::config::source::Loc;
use crate::config::tree::Node;

/// HTTP status codes keepalived accepts in `status_code` (`HTTP_STATUS_CODE_MIN/MAX`).
pub const STATUS_MIN: u16 = 100;
pub const STATUS_MAX: u16 = 599;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum HttpProtocol {
    /// `1.0` (the default).
    #[default]
    #[serde(rename = "1.0")]
    V1_0,
    /// `1.0C`: HTTP/1.0 with "Connection: close".
    #[serde(rename = "1.0C")]
    V1_0C,
    /// `1.1` (sends "Connection: close" too).
    #[serde(rename = "1.1")]
    V1_1,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HttpCheck {
    pub http_protocol: HttpProtocol,
    /// Host header; the url's, then this, then the real server's, then the virtual server's.
    pub virtualhost: Option<String>,
    /// SSL_GET: send SNI (the virtualhost) in the TLS handshake.
    pub enable_sni: bool,
    /// Check all urls back to back when starting or recovering.
    pub fast_recovery: bool,
    pub urls: Vec<Url>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Url {
    pub path: String,
    /// MD5 of the body (genhash output).
    pub digest: Option<[u8; 16]>,
    /// Accepted status codes as inclusive ranges; default 200-299.
    pub status_code: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<UrlRegex>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UrlRegex {
    pub pattern: String,
    /// `regex_no_match`: a match fails the check.
    pub no_match: bool,
    /// `regex_options`, the pcre2 option names keepalived knows (others are ignored).
    pub options: Vec<String>,
    pub min_offset: Option<u64>,
    pub max_offset: Option<u64>,
    /// `regex_stack START MAX`: JIT stack sizes in bytes.
    pub stack: Option<(u64, u64)>,
}

const REGEX_OPTIONS: &[&str] = &[
    "allow_empty_class",
    "alt_bsux",
    "auto_callout",
    "caseless",
    "dollar_endonly",
    "dotall",
    "dupnames",
    "extended",
    "firstline",
    "match_unset_backref",
    "multiline",
    "never_ucp",
    "never_utf",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "ucp",
    "ungreedy",
    "utf",
    "never_backslash_c",
    "alt_circumflex",
    "alt_verbnames",
    "use_offset_limit",
];

/// The keywords of `HTTP_GET`/`SSL_GET` themselves (the common ones are handled by the caller).
pub fn keyword(h: &mut HttpCheck, c: &Node, cx: &mut Ctx, set: &mut CommonSet) -> bool {
    match c.name() {
        "nb_get_retry" => {
            // keepalived 2.2.7 still accepts it, with this warning (check_http.c).
            cx.warn(c.loc(), "nb_get_retry is deprecated - please use 'retry'")
                .fallback("treating it as 'retry'");
            if let Some(r) = read::unsigned(cx, c, 0, 0, u32::MAX) {
                set.retry = Some(r);
            }
        }
        "virtualhost" => {
            if let Some(v) = cx_rest_or_warn(c, cx, "HTTP_GET virtualhost name missing") {
                h.virtualhost = Some(v);
            }
        }
        "http_protocol" => match c.args.first().map(|w| w.text.as_str()) {
            None => {
                cx.warn(c.loc(), "missing http_protocol version")
                    .expected("1.0, 1.0C or 1.1")
                    .fallback("ignoring it");
            }
            Some("1.0") => h.http_protocol = HttpProtocol::V1_0,
            Some("1.1") => h.http_protocol = HttpProtocol::V1_1,
            Some("1.0C") | Some("1.0c") => h.http_protocol = HttpProtocol::V1_0C,
            Some(v) => {
                cx.warn(c.args[0].loc, format!("invalid http_protocol version {v}"))
                    .expected("1.0, 1.0C or 1.1")
                    .fallback("ignoring it");
            }
        },
        "enable_sni" => h.enable_sni = cx.flag(c).unwrap_or(h.enable_sni),
        "fast_recovery" => h.fast_recovery = cx.flag(c).unwrap_or(h.fast_recovery),
        "url" => {
            if let Some(u) = url(c, cx) {
                h.urls.push(u);
            }
        }
        _ => return false,
    }
    true
}

/// keepalived's checker end handler: a checker without urls is dropped. (keepalived 2.2.7
/// then crashes with a segmentation fault in `-t`; we report it and go on.)
pub fn end(h: &mut HttpCheck, cx: &mut Ctx, at: Loc) -> bool {
    if h.urls.is_empty() {
        cx.warn(at, "HTTP/SSL_GET checker has no urls specified")
            .expected("at least one 'url { path ... }' block")
            .fallback("ignoring the checker");
        return false;
    }
    true
}

fn cx_rest_or_warn(c: &Node, cx: &mut Ctx, msg: &str) -> Option<String> {
    if c.args.is_empty() {
        cx.warn(c.loc(), msg).fallback("ignoring it");
        return None;
    }
    cx.rest(c, 0)
}

fn url(n: &Node, cx: &mut Ctx) -> Option<Url> {
    let mut u = Url::default();
    let mut path = None;
    let mut re = UrlRegex::default();
    let (mut has_pattern, mut re_params) = (false, false);
    for c in cx.block(n) {
        match c.name() {
            "path" => path = cx.arg(c, 0).and_then(|_| cx.rest(c, 0)).or(path),
            "digest" => digest(c, cx, &mut u),
            "status_code" => status_codes(c, cx, &mut u),
            "virtualhost" => {
                if let Some(v) = cx_rest_or_warn(c, cx, "missing HTTP_GET virtualhost name") {
                    u.virtualhost = Some(v);
                }
            }
            // keepalived only logs problems with the regex keywords (`-t` still succeeds),
            // and ignores the value; so do we, silently.
            "regex" => {
                if c.args.len() == 1 {
                    re.pattern = c.args[0].text.clone();
                    has_pattern = true;
                }
            }
            "regex_no_match" => {
                re.no_match = true;
                re_params = true;
            }
            "regex_options" => {
                for w in &c.args {
                    if REGEX_OPTIONS.contains(&w.text.as_str()) && !re.options.contains(&w.text) {
                        re.options.push(w.text.clone());
                    }
                }
                re_params = true;
            }
            "regex_min_offset" => {
                re.min_offset = offset(c);
                re_params = true;
            }
            "regex_max_offset" => {
                re.max_offset = offset(c);
                re_params = true;
            }
            "regex_stack" => {
                if let [a, b] = &c.args[..] {
                    if let (Ok(a), Ok(b)) = (a.text.parse::<u64>(), b.text.parse::<u64>()) {
                        if a <= b {
                            re.stack = Some((a, b));
                            re_params = true;
                        }
                    }
                }
            }
            _ => cx.unknown(c, "url"),
        }
    }
    let Some(path) = path else {
        cx.warn(n.loc(), "HTTP/SSL_GET checker url has no path")
            .expected("'path /...'")
            .fallback("ignoring the url");
        return None;
    };
    u.path = path;
    if u.status_code.is_empty() {
        u.status_code.push((200, 299));
    }
    let _ = re_params;
    if has_pattern {
        if let (Some(lo), Some(hi)) = (re.min_offset, re.max_offset) {
            // "regex min offset > regex_max_offset - ignoring" (logged only).
            if lo > hi {
                re.min_offset = None;
                re.max_offset = None;
            }
        }
        u.regex = Some(re);
    }
    Some(u)
}

fn offset(c: &Node) -> Option<u64> {
    match &c.args[..] {
        [w] => w.text.parse().ok(),
        _ => None,
    }
}

fn digest(c: &Node, cx: &mut Ctx, u: &mut Url) {
    let Some(w) = cx.arg(c, 0) else {
        return;
    };
    if u.digest.is_some() {
        cx.warn(w.loc, format!("digest '{}' is a duplicate", w.text))
            .fallback("ignoring it");
        return;
    }
    if w.text.len() != 32 {
        cx.warn(
            w.loc,
            format!(
                "digest '{}' character length should be 32 rather than {}",
                w.text,
                w.text.len()
            ),
        )
        .fallback("ignoring it");
        return;
    }
    let mut d = [0u8; 16];
    for (i, b) in d.iter_mut().enumerate() {
        match w
            .text
            .get(2 * i..2 * i + 2)
            .and_then(|s| u8::from_str_radix(s, 16).ok())
        {
            Some(v) => *b = v,
            None => {
                cx.warn(
                    w.loc,
                    format!("unable to interpret hex digits in digest '{}'", w.text),
                )
                .fallback("ignoring it");
                return;
            }
        }
    }
    u.digest = Some(d);
}

/// `status_code 200 200-299 ...`: each code or range within 100..599; bad ones are skipped.
fn status_codes(c: &Node, cx: &mut Ctx, u: &mut Url) {
    for w in &c.args {
        match parse_status(&w.text) {
            Some(r) => u.status_code.push(r),
            None => {
                cx.warn(w.loc, format!("invalid HTTP_GET status code '{}'", w.text))
                    .expected(format!("a code or range within {STATUS_MIN}-{STATUS_MAX}"))
                    .fallback("ignoring it");
            }
        }
    }
}

pub fn parse_status(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (lo, hi) = (a.parse::<u16>().ok()?, b.parse::<u16>().ok()?);
    let ok = |v: u16| (STATUS_MIN..=STATUS_MAX).contains(&v);
    (ok(lo) && ok(hi) && lo <= hi).then_some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_and_ranges() {
        assert_eq!(parse_status("200"), Some((200, 200)));
        assert_eq!(parse_status("200-299"), Some((200, 299)));
        assert_eq!(parse_status("99"), None);
        assert_eq!(parse_status("600"), None);
        assert_eq!(parse_status("300-200"), None);
        assert_eq!(parse_status("abc"), None);
    }
}
