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
