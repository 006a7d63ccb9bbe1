//! Any `/v1/responses` body, against a fresh store: decode, then convert, serialise and count.
#![no_main]

use conduit_openai::responses::{decode_request, ResponseStore};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = ResponseStore::default();
    match decode_request(data, &store) {
        Ok((request, _context)) => conduit_fuzz::exercise(&request),
        Err(e) => {
            let _ = conduit_openai::error_body(&e);
        }
    }
});
