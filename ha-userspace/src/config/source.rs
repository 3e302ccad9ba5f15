//! Where every token came from: the files read and positions inside them.
//!
//! A [`Loc`] is three integers so that tokens stay small (a 40,000 real-server config has
//! well over half a million of them); the [`SourceMap`] turns it back into `file:line:col`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a config file: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Loc {
    /// Index into [`SourceMap::files`].
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

/// Every file read while loading a configuration, in the order they were opened.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<PathBuf>,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path) -> u32 {
        self.files.push(path.to_path_buf());
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    pub fn path(&self, file: u32) -> &Path {
        self.files
            .get(file as usize)
            .map(PathBuf::as_path)
            .unwrap_or_else(|| Path::new("<unknown>"))
    }

    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// `file:line:col`, the prefix of every diagnostic.
    pub fn display(&self, loc: Loc) -> LocDisplay<'_> {
        LocDisplay { map: self, loc }
    }
}

pub struct LocDisplay<'a> {
    map: &'a SourceMap,
    loc: Loc,
}

impl fmt::Display for LocDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.map.path(self.loc.file).display(),
            self.loc.line,
            self.loc.col
        )
    }
}
