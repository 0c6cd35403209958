//! `faultline`: run, replay, shrink and exhaust the built-in simulation
//! scenarios (the command line itself is [`faultline_scenarios::cli`]).

// See BENCHMARKS.md, "Allocator": glibc's malloc and free were a third of
// a sweep's cycles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    faultline_scenarios::cli::main(faultline_scenarios::Registry::builtin())
}
