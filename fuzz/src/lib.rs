//! What the fuzz targets share: [`exercise`], what every request target does with a decoded
//! request (convert it to the Kiro body, serialise that, count its tokens; none of it may
//! panic, whatever the client sent), and [`repair_checksums`] for the event-stream targets.

use conduit_core::Request;
use conduit_kiro::convert::{encode_request, thinking_requested, tool_name_map, EncodeOptions};

/// The phases after decoding, as the gateway runs them on a client's request.
pub fn exercise(request: &Request) {
    let _ = conduit_core::tokens::count_request(request);
    let _ = thinking_requested(request);
    let _ = tool_name_map(request);
    let _ = conduit_kiro::convert::text_call_tools(request);
    let _ = conduit_kiro::convert::ends_with_tool_result(request);
    // A model without native reasoning (prompt tags), and one whose schema takes the effort
    // (additionalModelRequestFields, signed reasoning replayed).
    let models = [
        ("claude-sonnet-4.5", 600_000),
        ("claude-sonnet-4.5", 2_000),
        ("claude-opus-5", 600_000),
        ("claude-opus-4.6", 2_000),
    ];
    for (model_id, max_payload_bytes) in models {
        let opts = EncodeOptions {
            model_id: model_id.into(),
            model_schema: conduit_kiro::reasoning::fallback_schema(model_id),
            profile_arn: Some("arn:aws:codewhisperer:us-east-1:123456789012:profile/FUZZ".into()),
            conversation_id: "00000000-0000-4000-8000-000000000000".into(),
            tool_description_max: 10_000,
            max_payload_bytes,
        };
        if let Ok(body) = encode_request(request, &opts) {
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            // The converter promises the body fits; a body over the limit would be refused
            // upstream with an opaque 400.
            assert!(
                bytes.len() <= max_payload_bytes,
                "encoded body is {} bytes, over the {max_payload_bytes}-byte limit",
                bytes.len()
            );
        }
    }
}

/// Rewrites both CRCs of every frame whose lengths are plausible, in place.
pub fn repair_checksums(body: &mut [u8]) {
    let mut at = 0;
    while body.len() - at >= 16 {
        let frame = &mut body[at..];
        let total = u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        if total < 16 || total > frame.len() {
            return;
        }
        let prelude = crc32fast::hash(&frame[..8]);
        frame[8..12].copy_from_slice(&prelude.to_be_bytes());
        let message = crc32fast::hash(&frame[..total - 4]);
        frame[total - 4..total].copy_from_slice(&message.to_be_bytes());
        at += total;
    }
}
