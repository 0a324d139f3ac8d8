//! Fuzzes a gateway request body or query string and its decoder (`paychaos::fuzzing::gateway`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paychaos::fuzzing::gateway(data));
