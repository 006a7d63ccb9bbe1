//! Arbitrary bytes, split into arbitrary chunks, through `FrameDecoder` and `Assembler`: never a
//! panic, and the chunking never changes the events (or whether the stream is an error).
//!
//! Input layout: byte 0 seeds the chunk sizes (its low bit also says whether the request ended
//! with tool results), byte 1 picks the assembler options (and whether
//! the frames' checksums are repaired first, so mutated headers and payloads get past the CRC
//! checks and reach the event parsing and the assembler), the rest is the response body.
#![no_main]

use conduit_kiro::assemble::{AssembleOptions, Assembler};
use conduit_kiro::eventstream::FrameDecoder;
use conduit_kiro::wire::KiroEvent;
use libfuzzer_sys::fuzz_target;

/// Decodes `body` in chunks whose sizes come from `seed` (0: one chunk).
fn decode(body: &[u8], seed: u8) -> (Vec<KiroEvent>, bool) {
    let mut decoder = FrameDecoder::new();
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
        match decoder.push(chunk) {
            Ok(more) => events.extend(more),
            Err(_) => return (events, true),
        }
    }
    (events, decoder.finish().is_err())
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
        // (After an error, `push` drops the events of its own chunk, so only whole successes
        // are compared.)
        assert_eq!(whole, chunked, "chunking changed the events");
    }

    let mut tool_names = std::collections::HashMap::new();
    let mut text_call_tools = std::collections::HashMap::new();
    if flags & 2 != 0 {
        tool_names.insert(
            "get_weather".to_string(),
            "mcp__weather__get_weather".to_string(),
        );
        text_call_tools.insert(
            "get_weather".to_string(),
            serde_json::json!({"type": "object", "properties": {
                "city": {"type": "string"}, "days": {"type": "integer"}}}),
        );
    }
    let mut assembler = Assembler::new(AssembleOptions {
        message_id: "msg_fuzz".into(),
        model: "claude-sonnet-4-5".into(),
        input_tokens: u32::from(flags & 0x78) * 100,
        context_window: if flags & 4 != 0 { 0 } else { 200_000 },
        thinking: flags & 1 != 0,
        tool_names,
        text_call_tools,
        // The chunking seed's low bit: whether the request ended with tool results.
        after_tool_result: seed & 1 != 0,
    });
    let _ = assembler.start();
    for event in whole {
        if assembler.push(event).is_err() {
            return;
        }
    }
    let _ = assembler.finish();
});
