//! The command lines besides `ha`'s own (in `main.rs`): keepalived's, for the binary
//! started under that name, and the generators of man pages and completions.

pub mod generate;
pub mod keepalived;
