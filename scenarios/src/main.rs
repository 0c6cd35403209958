//! `faultline`: run, replay, shrink and exhaust the built-in simulation
//! scenarios (the command line itself is [`faultline_scenarios::cli`]).

fn main() -> std::process::ExitCode {
    faultline_scenarios::cli::main(faultline_scenarios::Registry::builtin())
}
