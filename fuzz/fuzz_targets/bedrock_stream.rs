//! Arbitrary bytes as a Bedrock `invoke-with-response-stream` body, split into arbitrary
//! chunks, through conduit-bedrock's `StreamDecoder` (frames → base64 chunk → Anthropic event,
//! rewritten for the client) and the Anthropic codec's `EventDecoder` (→ canonical events):
//! never a panic, and the chunking never changes the events or whether the stream fails.
//!
//! Input layout: byte 0 seeds the chunk sizes, byte 1's high bit repairs the frames' checksums
//! first (so mutated headers and payloads get past the CRC checks), the rest is the body.
#![no_main]

use conduit_anthropic::upstream::EventDecoder;
use conduit_bedrock::stream::StreamDecoder;
use conduit_core::RawEvent;
use libfuzzer_sys::fuzz_target;

/// Decodes `body` in chunks whose sizes come from `seed` (0: one chunk).
fn decode(body: &[u8], seed: u8) -> (Vec<RawEvent>, bool) {
    let mut decoder = StreamDecoder::new("claude-opus-4-7", "bedrock-fuzz", "AWS credentials");
    let mut events = Vec::new();
    let mut state = u32::from(seed);
    let mut rest = body;
    while !rest.is_empty() {
        let len = if seed == 0 {
            rest.len()
        } else {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            1 + (state >> 16) as usize % 64
        };
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        rest = tail;
        for item in decoder.push(chunk) {
            match item {
                Ok(ev) => events.push(ev),
                Err(_) => return (events, true),
            }
        }
    }
    (events, decoder.finish().is_some())
}

fuzz_target!(|data: &[u8]| {
    let [seed, flags, body @ ..] = data else {
        return;
    };
    let mut owned;
    let body = if flags & 0x80 != 0 {
        owned = body.to_vec();
        conduit_fuzz::repair_checksums(&mut owned);
        &owned[..]
    } else {
        body
    };
    let (whole, whole_failed) = decode(body, 0);
    let (chunked, chunked_failed) = decode(body, *seed);
    assert_eq!(
        whole_failed, chunked_failed,
        "chunking changed whether the stream fails"
    );
    if !whole_failed {
        assert_eq!(whole, chunked, "chunking changed the events");
    }
    // Every event the client would get is a JSON object.
    for ev in &whole {
        let parsed: Result<serde_json::Map<String, serde_json::Value>, _> =
            serde_json::from_slice(&ev.data);
        assert!(parsed.is_ok(), "a rewritten event is not a JSON object");
    }
    let mut canonical = EventDecoder::new("msg_fuzz", "claude-opus-4-7");
    for ev in whole {
        if canonical
            .feed(&ev.name, &ev.data)
            .iter()
            .any(Result::is_err)
        {
            return;
        }
    }
    let _ = canonical.finish();
});
