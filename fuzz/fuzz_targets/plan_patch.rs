//! Fuzzes a control API fault plan, as a PUT body and as a PATCH (`paychaos::fuzzing::plan_patch`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paychaos::fuzzing::plan_patch(data));
