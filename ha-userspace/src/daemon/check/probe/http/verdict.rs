//! Judging a complete response against a `url { }` block, in keepalived's order: data
//! received, status code, MD5 digest, regex.

use md5::{Digest, Md5};
use regex::bytes::{Regex, RegexBuilder};

use super::response;
use crate::config::model::lvs::checker::http::{Url, UrlRegex};

/// The status code when `buf` (everything read from the connection) satisfies `url`, else
/// why not. `buf` may hold only the head when `url` checks neither digest nor regex.
pub fn evaluate(url: &Url, buf: &[u8]) -> Result<u16, String> {
    if buf.is_empty() {
        return Err("no data received".to_string());
    }
    let head = response::head(buf)?
        .ok_or_else(|| "response ends before the end of its headers".to_string())?;
    let status = head.status;
    if !url
        .status_code
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&status))
    {
        return Err(format!(
            "status {status} not in {}",
            ranges_text(&url.status_code)
        ));
    }
    if url.digest.is_none() && url.regex.is_none() {
        return Ok(status);
    }
    let raw = &buf[head.body_start..];
    let body = response::body(&head, raw)?;
    if let Some(want) = &url.digest {
        let got: [u8; 16] = Md5::digest(&body).into();
        // keepalived (and its genhash) digests the bytes after the headers as they came, so
        // a digest taken from a chunked response includes the chunk framing: accept that
        // one too.
        let raw_ok = head.framing == response::Framing::Chunked
            && <[u8; 16]>::from(Md5::digest(raw)) == *want;
        if got != *want && !raw_ok {
            return Err(format!(
                "digest {} differs from expected {}",
                hex(&got),
                hex(want)
            ));
        }
    }
    if let Some(re) = &url.regex {
        let rx = compile(re)?;
        match (found(&rx, re, &body), re.no_match) {
            (true, false) | (false, true) => {}
            (false, false) => return Err(format!("regex {:?} not found", re.pattern)),
            (true, true) => {
                return Err(format!("regex {:?} found (regex_no_match)", re.pattern));
            }
        }
    }
    Ok(status)
}

/// Compiles a url's regex. The `regex` crate stands in for PCRE2: patterns using what it
/// lacks (look-around, back-references) fail here with the crate's explanation. Options
/// map where a counterpart exists; the rest tune PCRE2 itself (JIT, callouts, start-up
/// optimisations, capture naming) or its dialect, and have no effect. Without `utf`/`ucp`
/// the subject is bytes and classes are ASCII, as in PCRE2.
pub fn compile(re: &UrlRegex) -> Result<Regex, String> {
    let has = |o: &str| re.options.iter().any(|x| x == o);
    RegexBuilder::new(&re.pattern)
        .unicode((has("utf") || has("ucp")) && !has("never_utf") && !has("never_ucp"))
        .case_insensitive(has("caseless"))
        .multi_line(has("multiline"))
        .dot_matches_new_line(has("dotall"))
        .ignore_whitespace(has("extended"))
        .swap_greed(has("ungreedy"))
        .build()
        .map_err(|e| {
            let e = e.to_string();
            let e = e.split_whitespace().collect::<Vec<_>>().join(" ");
            format!("regex {:?} not supported: {e}", re.pattern)
        })
}

/// Whether the regex matches with its start between `regex_min_offset` and
/// `regex_max_offset` (both inclusive, as keepalived), and before the first newline with
/// `firstline`. The search itself starts at the minimum offset, so anchors and `\b` see the
/// bytes before it, as with PCRE2's start offset.
fn found(rx: &Regex, re: &UrlRegex, body: &[u8]) -> bool {
    let start = re
        .min_offset
        .and_then(|o| usize::try_from(o).ok())
        .unwrap_or(0);
    if start > body.len() {
        return false;
    }
    let Some(m) = rx.find_at(body, start) else {
        return false;
    };
    let mut last = re
        .max_offset
        .map_or(usize::MAX, |o| usize::try_from(o).unwrap_or(usize::MAX));
    if re.options.iter().any(|o| o == "firstline") {
        let nl = body[start..].iter().position(|&b| b == b'\n');
        last = last.min(nl.map_or(body.len(), |p| start + p));
    }
    m.start() <= last
}

fn ranges_text(ranges: &[(u16, u16)]) -> String {
    ranges
        .iter()
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url {
            path: "/".to_string(),
            status_code: vec![(200, 299)],
            ..Url::default()
        }
    }

    fn md5_of(b: &[u8]) -> [u8; 16] {
        Md5::digest(b).into()
    }

    fn with_regex(pattern: &str, f: impl FnOnce(&mut UrlRegex)) -> Url {
        let mut re = UrlRegex {
            pattern: pattern.to_string(),
            ..UrlRegex::default()
        };
        f(&mut re);
        Url {
            regex: Some(re),
            ..url()
        }
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n";

    #[test]
    fn status_codes_are_checked_against_the_ranges() {
        assert_eq!(evaluate(&url(), OK), Ok(200));
        let nf = b"HTTP/1.0 404 Not Found\r\n\r\n";
        assert_eq!(
            evaluate(&url(), nf),
            Err("status 404 not in 200-299".to_string())
        );
        let u = Url {
            status_code: vec![(200, 200), (400, 499)],
            ..url()
        };
        assert_eq!(evaluate(&u, nf), Ok(404));
        let e = evaluate(&u, b"HTTP/1.0 302 Found\r\n\r\n").unwrap_err();
        assert_eq!(e, "status 302 not in 200,400-499");
    }

    #[test]
    fn missing_or_malformed_responses_fail() {
        assert_eq!(evaluate(&url(), b""), Err("no data received".to_string()));
        let e = evaluate(&url(), b"HTTP/1.1 200 OK\r\nServer: x\r\n").unwrap_err();
        assert_eq!(e, "response ends before the end of its headers");
        let e = evaluate(&url(), b"220 smtp.example.com ESMTP\r\n\r\n").unwrap_err();
        assert!(e.starts_with("malformed status line"), "{e}");
        // Arbitrary bytes never panic.
        let mut seed = 7u32;
        for len in 0..300 {
            let junk: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"HTTP/1.0 2\r\n:;0a"[(seed >> 16) as usize % 16]
                })
                .collect();
            let u = Url {
                digest: Some([0; 16]),
                ..with_regex("a", |_| {})
            };
            let _ = evaluate(&u, &junk);
        }
    }

    #[test]
    fn digests_cover_the_body_only_and_stop_at_content_length() {
        let u = Url {
            digest: Some(md5_of(b"hello world\n")),
            ..url()
        };
        assert_eq!(evaluate(&u, OK), Ok(200));
        let mut extra = OK.to_vec();
        extra.extend_from_slice(b"garbage after the body");
        assert_eq!(evaluate(&u, &extra), Ok(200));
        let other = b"HTTP/1.1 200 OK\r\n\r\nhello there\n";
        let e = evaluate(&u, other).unwrap_err();
        assert_eq!(
            e,
            format!(
                "digest {} differs from expected {}",
                hex(&md5_of(b"hello there\n")),
                hex(&md5_of(b"hello world\n"))
            )
        );
    }

    #[test]
    fn chunked_bodies_are_digested_decoded_or_as_keepalived_saw_them() {
        let raw_body = b"6\r\nhello \r\n6\r\nworld\n\r\n0\r\n\r\n";
        let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        resp.extend_from_slice(raw_body);
        for want in [md5_of(b"hello world\n"), md5_of(raw_body)] {
            let u = Url {
                digest: Some(want),
                ..url()
            };
            assert_eq!(evaluate(&u, &resp), Ok(200));
        }
        let u = Url {
            digest: Some(md5_of(b"hello")),
            ..url()
        };
        assert!(evaluate(&u, &resp).unwrap_err().starts_with("digest "));
        let cut = &resp[..resp.len() - 5];
        assert_eq!(
            evaluate(&u, cut),
            Err("response ends inside its chunked body".to_string())
        );
        // Status-only checks do not need the body at all.
        assert_eq!(evaluate(&url(), cut), Ok(200));
    }

    #[test]
    fn regexes_match_or_must_not_match() {
        assert_eq!(evaluate(&with_regex("wor.d", |_| {}), OK), Ok(200));
        assert_eq!(
            evaluate(&with_regex("^HTTP", |_| {}), OK),
            Err("regex \"^HTTP\" not found".to_string())
        );
        let u = with_regex("world", |r| r.no_match = true);
        assert_eq!(
            evaluate(&u, OK),
            Err("regex \"world\" found (regex_no_match)".to_string())
        );
        assert_eq!(
            evaluate(&with_regex("error", |r| r.no_match = true), OK),
            Ok(200)
        );
        // Status is checked before the regex.
        let u = with_regex("x", |_| {});
        let e = evaluate(&u, b"HTTP/1.1 500 Oops\r\n\r\nx").unwrap_err();
        assert!(e.starts_with("status 500"), "{e}");
    }

    #[test]
    fn regex_offsets_bound_where_a_match_may_start() {
        // "hello world\n": "world" starts at 6.
        let at = |min: Option<u64>, max: Option<u64>| {
            let u = with_regex("world", |r| {
                r.min_offset = min;
                r.max_offset = max;
            });
            evaluate(&u, OK).is_ok()
        };
        assert!(at(Some(6), None));
        assert!(!at(Some(7), None));
        assert!(at(None, Some(6)));
        assert!(!at(None, Some(5)));
        assert!(at(Some(2), Some(6)));
        assert!(!at(Some(100), None));
        assert!(!at(Some(u64::MAX), None));
        // A word boundary before the start offset is seen, as with PCRE2's start offset.
        let u = with_regex(r"\bworld", |r| r.min_offset = Some(6));
        assert!(evaluate(&u, OK).is_ok());
    }

    #[test]
    fn regex_options_map_to_the_regex_crate() {
        fn opts(o: &'static [&'static str]) -> impl FnOnce(&mut UrlRegex) {
            move |r| r.options = o.iter().map(|s| s.to_string()).collect()
        }
        assert!(evaluate(&with_regex("WORLD", |_| {}), OK).is_err());
        assert!(evaluate(&with_regex("WORLD", opts(&["caseless"])), OK).is_ok());
        assert!(evaluate(&with_regex("^hello world$", |_| {}), OK).is_err());
        assert!(evaluate(&with_regex("^hello world$", opts(&["multiline"])), OK).is_ok());
        assert!(evaluate(&with_regex("w o r l d", opts(&["extended"])), OK).is_ok());
        let two_lines = b"HTTP/1.1 200 OK\r\n\r\nfirst\nsecond ok\n";
        assert!(evaluate(&with_regex("ok", |_| {}), two_lines).is_ok());
        assert!(evaluate(&with_regex("ok", opts(&["firstline"])), two_lines).is_err());
        assert!(evaluate(&with_regex("t.s", |_| {}), two_lines).is_err());
        assert!(evaluate(&with_regex("t.s", opts(&["dotall"])), two_lines).is_ok());
    }

    #[test]
    fn regexes_the_crate_cannot_compile_fail_with_the_reason() {
        let e = evaluate(&with_regex("(?<=a)b", |_| {}), OK).unwrap_err();
        assert!(e.starts_with("regex \"(?<=a)b\" not supported: "), "{e}");
        assert!(!e.contains('\n'));
    }
}
