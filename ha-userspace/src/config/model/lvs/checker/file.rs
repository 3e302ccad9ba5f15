//! `FILE_CHECK` (keepalived.conf(5), "File checker"): the real server follows a number read
//! from a file declared by a top-level `track_file` block. No standard checker options.

use serde::Serialize;

use crate::config::ctx::Ctx;
use crate::config::model::lvs::read;
use crate::config::source::Loc;
use crate::config::tree::Node;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FileCheck {
    /// Name of a `track_file` block defined above the checker.
    pub track_file: String,
    /// Multiplier of the file's value; `None`: the track_file block's own weight.
    pub weight: Option<i32>,
    /// `reverse`: a higher value lowers the weight.
    pub reverse: bool,
}

pub fn keyword(f: &mut FileCheck, c: &Node, cx: &mut Ctx) -> bool {
    match c.name() {
        "track_file" => {
            if let Some(w) = cx.arg(c, 0) {
                if cx.defined.track_files.contains(&w.text) {
                    f.track_file = w.text.clone();
                } else {
                    // Resolved while parsing, so the track_file block must come first.
                    cx.warn(w.loc, format!("track_file {} not found", w.text))
                        .expected("a track_file block defined above this checker")
                        .fallback("ignoring it");
                }
            }
        }
        "weight" => {
            if c.args.is_empty() {
                cx.warn(c.loc(), "track file weight missing")
                    .fallback("ignoring it");
                return true;
            }
            let limit = read::WEIGHT_LIMIT as i32;
            let Some(w) = cx.num(c, 0, -limit, limit) else {
                return true;
            };
            let reverse = match c.args.get(1).map(|w| w.text.as_str()) {
                None | Some("noreverse") => false,
                Some("reverse") => true,
                Some(o) => {
                    cx.warn(
                        c.args[1].loc,
                        format!("unknown track file weight option {o}"),
                    )
                    .expected("reverse or noreverse")
                    .fallback("ignoring the weight");
                    return true;
                }
            };
            f.weight = Some(w);
            f.reverse = reverse;
        }
        _ => return false,
    }
    true
}

pub fn end(f: &mut FileCheck, cx: &mut Ctx, at: Loc) -> bool {
    if f.track_file.is_empty() {
        cx.warn(at, "FILE_CHECK has no track_file specified")
            .fallback("ignoring the checker");
        return false;
    }
    true
}
