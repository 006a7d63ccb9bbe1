//! The `bedrock_stream` fuzz target's seeds (`fuzz/corpus/bedrock_stream/seed-*`) decode as the
//! fuzz target expects: the well-formed ones to their events, the broken ones to one error,
//! whatever the chunking.

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use conduit_bedrock::stream::StreamDecoder;

fn decode(body: &[u8], chunk: usize) -> (Vec<String>, bool) {
    let mut d = StreamDecoder::new("claude-opus-4-7", "bedrock-seed", "AWS credentials");
    let mut names = Vec::new();
    for part in body.chunks(chunk.max(1)) {
        for item in d.push(part) {
            match item {
                Ok(ev) => names.push(ev.name),
                Err(_) => return (names, true),
            }
        }
    }
    (names, d.finish().is_some())
}

#[test]
fn seeds_decode_the_same_in_any_chunking() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/bedrock_stream"
    );
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("seed-") {
            continue;
        }
        seen += 1;
        let data = std::fs::read(&path).unwrap();
        let body = &data[2..];
        let whole = decode(body, body.len());
        let chunked = decode(body, 7);
        assert_eq!(
            whole.1, chunked.1,
            "{name}: chunking changed whether it fails"
        );
        if !whole.1 {
            // (After a framing error, `push` drops its chunk's events, as in the fuzz target.)
            assert_eq!(whole.0, chunked.0, "{name}");
        }
        let expect_error = name.contains("exception") || name.contains("repaired");
        assert_eq!(whole.1, expect_error, "{name}: {whole:?}");
        if name.starts_with("seed-text") || name.starts_with("seed-tools") {
            assert_eq!(
                whole.0.first().map(String::as_str),
                Some("message_start"),
                "{name}"
            );
            assert_eq!(
                whole.0.last().map(String::as_str),
                Some("message_stop"),
                "{name}"
            );
        }
    }
    assert!(seen >= 9);
}
