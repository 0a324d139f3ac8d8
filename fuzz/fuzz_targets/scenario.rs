//! Fuzzes a scenario file, parsed and validated (`paychaos::fuzzing::scenario`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paychaos::fuzzing::scenario(data));
