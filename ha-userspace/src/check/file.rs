//! `FILE_CHECK`: what a track file's value does to a real server (keepalived's
//! track_file.c / check_file.c). With a weight, the value times the weight (negated with
//! `reverse`) is added to the server's weight, and the lowest 32-bit value fails it; with
//! weight 0, any non-zero value fails it (zero does, with `reverse`).

/// A file's effect on its real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Fault,
    /// Added to the server's weight.
    Weight(i64),
}

pub fn status(value: i64, weight: i32, reverse: bool) -> FileStatus {
    if weight == 0 {
        return if (value != 0) != reverse {
            FileStatus::Fault
        } else {
            FileStatus::Weight(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let v = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(sign)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    if v <= i64::from(i32::MIN) {
        FileStatus::Fault
    } else {
        FileStatus::Weight(v)
    }
}
