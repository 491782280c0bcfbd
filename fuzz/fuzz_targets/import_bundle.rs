#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| shared::fuzzing::import_bundle::check(data));
