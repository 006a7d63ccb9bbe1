//! Frames round-trip through any chunking; corrupt, oversized and cut streams are errors.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

use super::*;
use proptest::prelude::*;

fn sample() -> Vec<Frame> {
    vec![
        Frame::new(
            [
                (":event-type", "chunk"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            Bytes::from_static(b"{\"bytes\":\"eyJ0eXBlIjoicGluZyJ9\"}"),
        ),
        Frame::new(
            [
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            Bytes::from_static("{\"message\":\"slow down ✋\"}".as_bytes()),
        ),
        Frame::new([], Bytes::new()),
    ]
}

fn encoded() -> Vec<u8> {
    sample().iter().flat_map(|f| f.encode().unwrap()).collect()
}

fn check(bytes: &[u8], cuts: &[usize]) -> Result<Vec<Frame>, Error> {
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
fn round_trip_and_headers() {
    let frames = check(&encoded(), &[]).unwrap();
    assert_eq!(frames, sample());
    assert_eq!(frames[0].header(":event-type"), Some("chunk"));
    assert_eq!(frames[1].message_type(), "exception");
    assert_eq!(frames[2].message_type(), "event");
    assert_eq!(frames[2].header(":event-type"), None);
}

#[test]
fn errors() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "impossible length",
            vec![0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0],
            "impossible length",
        ),
        (
            "corrupt crc",
            {
                let mut b = encoded();
                let n = b.len();
                b[n - 1] ^= 0xff;
                b
            },
            "corrupt",
        ),
        (
            "cut",
            {
                let b = encoded();
                b[..b.len() - 1].to_vec()
            },
            "cut in the middle",
        ),
    ];
    for (name, bytes, want) in cases {
        let err = check(&bytes, &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamProtocol, "{name}");
        assert!(err.message.contains(want), "{name}: {}", err.message);
    }
}

#[tokio::test]
async fn frames_of_a_body_stream() {
    let bytes = encoded();
    let chunks: Vec<Result<Bytes, Error>> = bytes
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let got: Vec<_> = frames(Box::pin(futures::stream::iter(chunks)))
        .collect()
        .await;
    let got: Vec<Frame> = got.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, sample());

    let cut: Vec<Result<Bytes, Error>> = vec![
        Ok(Bytes::copy_from_slice(&bytes[..10])),
        Err(Error::internal("reset")),
    ];
    let got: Vec<_> = frames(Box::pin(futures::stream::iter(cut))).collect().await;
    assert_eq!(got.len(), 1);
    assert!(got[0].as_ref().unwrap_err().message.contains("cut before"));
}

proptest! {
    #[test]
    fn any_chunking_gives_the_same_frames(mut cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let bytes = encoded();
        let mut offsets: Vec<usize> = cuts.drain(..).map(|i| i.index(bytes.len())).collect();
        offsets.sort_unstable();
        offsets.dedup();
        prop_assert_eq!(check(&bytes, &offsets).unwrap(), sample());
    }
}

/// Every header type, decoded by our decoder and by `aws-smithy-eventstream`'s from the same
/// bytes, gives the same frame.
#[test]
fn every_header_type_decodes_as_smithy_decodes_it() {
    use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
    use aws_smithy_types::str_bytes::StrBytes;
    use aws_smithy_types::DateTime;

    let values = [
        HeaderValue::Bool(true),
        HeaderValue::Bool(false),
        HeaderValue::Byte(-7),
        HeaderValue::Int16(-300),
        HeaderValue::Int32(-70_000),
        HeaderValue::Int64(-5_000_000_000),
        HeaderValue::ByteArray(Bytes::from_static(&[0, 1, 2, 255])),
        HeaderValue::String(StrBytes::from("héllo")),
        HeaderValue::String(StrBytes::from("")),
        HeaderValue::Timestamp(DateTime::from_millis(1_700_000_000_123)),
        HeaderValue::Uuid(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210),
    ];
    let frame = Frame {
        headers: values
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("h{i}"), v.clone()))
            .collect(),
        payload: Bytes::from_static(b"{\"x\":1}"),
    };
    let bytes = frame.encode().unwrap();
    let ours = check(&bytes, &[]).unwrap();
    assert_eq!(ours, vec![frame.clone()]);

    let mut buf = Bytes::from(bytes);
    let DecodedFrame::Complete(message) =
        MessageFrameDecoder::new().decode_frame(&mut buf).unwrap()
    else {
        panic!("smithy wanted more bytes");
    };
    let theirs: Vec<(String, HeaderValue)> = message
        .headers()
        .iter()
        .map(|h| (h.name().as_str().to_owned(), h.value().clone()))
        .collect();
    assert_eq!(ours[0].headers, theirs);
    assert_eq!(&ours[0].payload, message.payload());
}

/// Frames whose header block lies about its contents are corrupt, not a panic: a header name
/// or value running past the header block, an unknown value type, a name that is not UTF-8.
#[test]
fn lying_header_blocks_are_errors() {
    // prelude (total, headers_len, crc), headers, payload, message crc
    fn frame_with_headers(headers: &[u8]) -> Vec<u8> {
        let total = 12 + headers.len() + 4;
        let mut b = Vec::new();
        b.extend_from_slice(&(total as u32).to_be_bytes());
        b.extend_from_slice(&(headers.len() as u32).to_be_bytes());
        b.extend_from_slice(&crc32fast::hash(&b[..8]).to_be_bytes());
        b.extend_from_slice(headers);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        b
    }
    let cases: [(&str, &[u8]); 5] = [
        ("name past the block", &[9, b'a', b'b']),
        ("no type byte", &[1, b'a']),
        ("string past the block", &[1, b'a', 7, 0, 9, b'x']),
        ("unknown type", &[1, b'a', 42]),
        ("name not UTF-8", &[1, 0xff, 0]),
    ];
    for (name, headers) in cases {
        let err = check(&frame_with_headers(headers), &[]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::UpstreamProtocol, "{name}");
        assert!(err.message.contains("corrupt"), "{name}: {}", err.message);
    }
    // A well-formed one decodes.
    let ok = check(&frame_with_headers(&[1, b'a', 7, 0, 1, b'x']), &[]).unwrap();
    assert_eq!(ok[0].header("a"), Some("x"));
}
