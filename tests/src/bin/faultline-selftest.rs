//! The `faultline` command line with the built-in scenarios and the
//! test-only scenarios [`faultline_tests::misbehaving`] and
//! [`faultline_tests::broken_fs::SkipsSyncs`]: a project's own
//! binary over `faultline_scenarios::cli::main` looks like this one.

use std::sync::Arc;

fn main() -> std::process::ExitCode {
    let mut registry = faultline_scenarios::Registry::builtin();
    registry.register(Arc::new(faultline_tests::misbehaving::Misbehaving));
    registry.register(Arc::new(faultline_tests::broken_fs::SkipsSyncs));
    faultline_scenarios::cli::main(registry)
}
