//! The whole config front end (lexer, preprocessor, tree, model, diagnostics, JSON dump) on
//! arbitrary bytes: it must never panic, hang or blow up memory.
#![no_main]

use std::path::Path;

use ha::config::{self, preprocess::Limits, LoadOptions, PermissiveEnv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions {
        config_id: Some("fuzz".into()),
        random_seed: Some(1),
        // Small limits keep each run fast; the limits themselves are what is exercised.
        limits: Limits {
            max_file_bytes: 1 << 20,
            max_total_bytes: 4 << 20,
            max_include_depth: 4,
            max_expansion_depth: 16,
            max_lines: 20_000,
        },
        ..LoadOptions::default()
    };
    // Includes resolve relative to /nonexistent so the fuzzer cannot wander the disk
    // except through absolute paths, which are bounded by the same limits.
    let loaded = config::load_bytes(Path::new("/nonexistent/fuzz.conf"), data, &opts, &PermissiveEnv);
    let _ = loaded.report();
    let _ = serde_json::to_string(&loaded.config);
});
