//! Bytes become a hostile history (with `arbitrary`): a genuine history
//! forged by the harness, checksummed and well-formed but wrong in
//! meaning. The engine must open it as FORMAT.md allows or refuse naming
//! the file, the offset and the reason; anything else panics.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    faultline_fuzz::bodies::hostile_history(data);
});
