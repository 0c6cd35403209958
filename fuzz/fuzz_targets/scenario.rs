//! Bytes become a whole case (with `arbitrary`): engine options, a
//! workload of transactions and a fault schedule, run on the simulated
//! filesystem and judged by the oracle. Any failure panics with the case
//! and the failure's report.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    faultline_fuzz::bodies::scenario(data);
});
