//! Arbitrary bytes → the whole UDP answer path (fast path, hickory
//! fallback) against a fixed snapshot, with the fast reply compared with
//! the hickory path's by meaning (`harness::check_respond`).

#![no_main]

use std::cell::RefCell;
use std::sync::LazyLock;

use fadelist_dns::fast::Responder;
use fadelist_dns::publisher::Served;
use fadelist_fuzz::harness;
use libfuzzer_sys::fuzz_target;

static SERVED: LazyLock<Served> = LazyLock::new(harness::served);

thread_local! {
    static RESPONDER: RefCell<Responder> = RefCell::new(Responder::new());
}

fuzz_target!(|data: &[u8]| {
    RESPONDER.with_borrow_mut(|responder| {
        if let Err(e) = harness::check_respond(&SERVED, responder, data) {
            panic!("answer path invariant: {e}\npacket {data:02x?}");
        }
    });
});
