//! Any `/v1/chat/completions` body: decode, then convert, serialise and count if accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = conduit_openai::chat::include_usage(data);
    match conduit_openai::chat::decode_request(data) {
        Ok(request) => conduit_fuzz::exercise(&request),
        Err(e) => {
            let _ = conduit_openai::error_body(&e);
        }
    }
});
