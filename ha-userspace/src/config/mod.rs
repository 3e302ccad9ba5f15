//! The keepalived.conf front end: lexer → preprocessor → block tree → typed model.
//!
//! [`load`] never panics and never stops at the first problem: it returns the model built
//! from everything that could be understood plus every diagnostic, so `ha check-config`
//! reports all problems at once and the daemon can refuse a bad reload while keeping the
//! running configuration.

pub mod ctx;
pub mod diag;
pub mod lexer;
pub mod model;
pub mod preprocess;
pub mod source;
pub mod tree;

use std::path::Path;

pub use ctx::{Env, PermissiveEnv, SystemEnv};
pub use diag::{Diagnostic, Diagnostics, Severity};
pub use model::Config;
pub use source::SourceMap;

#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--strict`: every warning is an error; nothing falls back to a default.
    pub strict: bool,
    /// `-i/--config-id`; `None` uses the host name up to its first dot, like keepalived.
    pub config_id: Option<String>,
    /// Seed for `${_RANDOM}`; `None` seeds from the clock.
    pub random_seed: Option<u64>,
    pub limits: preprocess::Limits,
}

#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub diags: Diagnostics,
    pub map: SourceMap,
}

impl Loaded {
    /// Every diagnostic as `file:line:col: severity: message`, one per line.
    pub fn report(&self) -> String {
        self.diags.render(&self.map)
    }
}

/// Loads the configuration in `path` and everything it includes.
pub fn load(path: &Path, opts: &LoadOptions, env: &dyn Env) -> Loaded {
    load_inner(path, None, opts, env)
}

/// Loads a configuration whose main file content is `bytes` (`path` names it in messages
/// and anchors relative includes).
pub fn load_bytes(path: &Path, bytes: &[u8], opts: &LoadOptions, env: &dyn Env) -> Loaded {
    load_inner(path, Some(bytes), opts, env)
}

/// The stages stream into each other: each line goes to the tree builder as it is read, and
/// each top-level block to the model as soon as it closes, so memory follows the size of
/// the model, not of the file.
fn load_inner(path: &Path, given: Option<&[u8]>, opts: &LoadOptions, env: &dyn Env) -> Loaded {
    let mut diags = Diagnostics::new(opts.strict);
    let pre_opts = preprocess::Options {
        config_id: opts.config_id.clone().unwrap_or_else(default_config_id),
        random_seed: opts.random_seed.unwrap_or_else(clock_seed),
        limits: opts.limits.clone(),
    };
    let mut tree = tree::Builder::default();
    let mut model = model::Builder::default();
    let map = {
        let mut to_model = |node: tree::Node, d: &mut Diagnostics| model.node(&node, d, env);
        let mut sink = |line, d: &mut Diagnostics| tree.line(line, d, &mut to_model);
        preprocess::preprocess_into(path, given, &pre_opts, &mut diags, &mut sink)
    };
    tree.finish(&mut diags, &mut |node, d| model.node(&node, d, env));
    let config = model.finish(&mut diags, env);
    Loaded { config, diags, map }
}

/// keepalived's default config id: the node name (uname) up to the first dot.
pub fn default_config_id() -> String {
    let name = crate::system::host_name();
    name.split('.').next().unwrap_or("").to_string()
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}
