//! Any `/v1/messages` body: decoding may refuse it, but nothing after an accepted decode may
//! panic (conversion, serialisation, token counting). `count_tokens` bodies too.
#![no_main]

use conduit_anthropic::{decode_count_tokens, decode_request, error_body, RequestHeaders};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let headers = RequestHeaders {
        session_id: Some("fuzz-session".into()),
    };
    match decode_request(data, &headers) {
        Ok(request) => conduit_fuzz::exercise(&request),
        Err(e) => {
            let _ = error_body(&e);
        }
    }
    if let Ok(request) = decode_count_tokens(data) {
        let _ = conduit_core::tokens::count_request(&request);
    }
});
