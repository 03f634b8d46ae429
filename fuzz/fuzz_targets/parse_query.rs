//! Arbitrary bytes → `parse_query`; when it accepts, the parsed query must
//! agree with the bytes and with hickory-proto's decoder
//! (`harness::check_parse`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = fadelist_fuzz::harness::check_parse(data) {
        panic!("parse_query invariant: {e}\npacket {data:02x?}");
    }
});
