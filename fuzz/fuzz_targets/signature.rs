//! Fuzzes a Stripe-Signature header and the gateway's sign and notify_time checks (`paychaos::fuzzing::signature`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paychaos::fuzzing::signature(data));
