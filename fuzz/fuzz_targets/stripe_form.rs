//! Fuzzes a Stripe form body and the Stripe dialect's request decoder (`paychaos::fuzzing::stripe_form`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| paychaos::fuzzing::stripe_form(data));
