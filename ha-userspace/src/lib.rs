//! `ha`: a keepalived-compatible high-availability daemon for Linux.

pub mod config;

#[cfg(test)]
mod test_support;
