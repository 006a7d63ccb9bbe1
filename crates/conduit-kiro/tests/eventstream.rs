//! Event-stream decoding: any chunking of the bytes gives the same events; corrupt and cut
//! streams are errors.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use conduit_kiro::eventstream::{encode_event, FrameDecoder};
use conduit_kiro::wire::{KiroEvent, TokenUsage};
use proptest::prelude::*;

fn events() -> Vec<KiroEvent> {
    vec![
        KiroEvent::AssistantResponse {
            content: "Hello, wörld 👋".into(),
        },
        KiroEvent::ToolUse {
            tool_use_id: "tooluse_abc".into(),
            name: "get_weather".into(),
            input: None,
            stop: false,
        },
        KiroEvent::ToolUse {
            tool_use_id: "tooluse_abc".into(),
            name: "get_weather".into(),
            input: Some("{\"city\": \"Dhaka\"}".into()),
            stop: false,
        },
        KiroEvent::ToolUse {
            tool_use_id: "tooluse_abc".into(),
            name: "get_weather".into(),
            input: None,
            stop: true,
        },
        KiroEvent::MetadataTokenUsage(TokenUsage {
            output_tokens: Some(3),
            ..TokenUsage::default()
        }),
        KiroEvent::Metering { usage: 0.176 },
        KiroEvent::Reasoning {
            text: Some("Let me think ✓".into()),
            signature: None,
            redacted_content: None,
        },
        KiroEvent::Reasoning {
            text: None,
            signature: Some("EqQBCkYIBxgCKkD+/=".into()),
            redacted_content: None,
        },
        KiroEvent::Reasoning {
            text: None,
            signature: None,
            redacted_content: Some("b3BhcXVl".into()),
        },
        KiroEvent::MetadataStopReason("end_turn".into()),
        KiroEvent::ContextUsage { percentage: 25.5 },
        KiroEvent::Other("followupPromptEvent".into()),
        KiroEvent::Exception {
            kind: "ThrottlingException".into(),
            message: "Too many requests, please wait.".into(),
        },
    ]
}

fn encoded() -> Vec<u8> {
    events()
        .iter()
        .flat_map(|e| encode_event(e).unwrap())
        .collect()
}

/// Decodes `bytes` split at `cuts` (sorted, deduplicated offsets).
fn check(bytes: &[u8], cuts: &[usize]) -> Result<Vec<KiroEvent>, conduit_core::Error> {
    let mut decoder = FrameDecoder::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        out.extend(decoder.push(&bytes[start..cut])?);
        start = cut;
    }
    decoder.finish()?;
    Ok(out)
}

#[test]
fn round_trips_in_one_chunk() {
    assert_eq!(check(&encoded(), &[]).unwrap(), events());
}

#[test]
fn byte_by_byte() {
    let bytes = encoded();
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(check(&bytes, &cuts).unwrap(), events());
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_events(mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let bytes = encoded();
        let mut offsets: Vec<usize> = cuts.drain(..).map(|i| i.index(bytes.len())).collect();
        offsets.sort_unstable();
        offsets.dedup();
        prop_assert_eq!(check(&bytes, &offsets).unwrap(), events());
    }
}

#[test]
fn corrupt_crc_is_an_error() {
    let mut bytes = encoded();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    let err = check(&bytes, &[]).unwrap_err();
    assert_eq!(err.kind, conduit_core::ErrorKind::UpstreamProtocol);
}

#[test]
fn impossible_length_is_an_error() {
    let err = check(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0], &[]).unwrap_err();
    assert!(err.message.contains("impossible length"), "{}", err.message);
}

#[test]
fn partial_frame_at_end_is_an_error() {
    let bytes = encoded();
    let mut decoder = FrameDecoder::new();
    decoder.push(&bytes[..bytes.len() - 1]).unwrap();
    assert!(decoder.finish().is_err());
    decoder.push(&bytes[bytes.len() - 1..]).unwrap();
    assert!(decoder.finish().is_ok());
}
