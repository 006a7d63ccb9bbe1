//! One whole event-stream frame, bytes to [`Frame`]: prelude, both CRC-32 checks (each over a
//! slice at once), headers by type, payload as a slice of the frame (no copy). The layout:
//! `total_len u32 | headers_len u32 | prelude_crc u32 | headers | payload | message_crc u32`,
//! big-endian; a header is `name_len u8 | name | type u8 | value`.

use aws_smithy_types::event_stream::HeaderValue;
use aws_smithy_types::str_bytes::StrBytes;
use aws_smithy_types::DateTime;
use bytes::Bytes;

use super::{Frame, MIN_FRAME_LEN, PRELUDE_LEN};

/// Why a frame is corrupt (worded for the error the stream ends with).
pub(super) type Corrupt = String;

/// Decodes `frame`, exactly one frame's bytes (its announced length, at least
/// [`MIN_FRAME_LEN`]).
pub(super) fn frame(frame: Bytes) -> Result<Frame, Corrupt> {
    let total = frame.len();
    debug_assert!(total >= MIN_FRAME_LEN);
    let headers_len = be_u32(&frame[4..8]) as usize;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&frame[..8]);
    let prelude_crc = be_u32(&frame[8..12]);
    if crc.clone().finalize() != prelude_crc {
        return Err(format!(
            "prelude checksum mismatch (computed {:#x}, sent {prelude_crc:#x})",
            crc.finalize()
        ));
    }
    crc.update(&frame[8..total - 4]);
    let (computed, sent) = (crc.finalize(), be_u32(&frame[total - 4..]));
    if computed != sent {
        return Err(format!(
            "message checksum mismatch (computed {computed:#x}, sent {sent:#x})"
        ));
    }
    let payload_start = PRELUDE_LEN + headers_len;
    if payload_start > total - 4 {
        return Err(format!(
            "headers of {headers_len} bytes do not fit a frame of {total} bytes"
        ));
    }
    let mut headers = Vec::with_capacity(4);
    let mut at = PRELUDE_LEN;
    while at < payload_start {
        let (header, next) = header(&frame, at, payload_start)?;
        headers.push(header);
        at = next;
    }
    Ok(Frame {
        headers,
        payload: frame.slice(payload_start..total - 4),
    })
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The header at `at`, and where the next one starts; nothing may reach past `end`.
fn header(frame: &Bytes, at: usize, end: usize) -> Result<((String, HeaderValue), usize), Corrupt> {
    let bad = |what: &str| format!("invalid header {what} at byte {at}");
    let name_len = usize::from(frame[at]);
    let name_end = at + 1 + name_len;
    // The name, then at least the value's type byte.
    if name_end >= end {
        return Err(bad("name length"));
    }
    let name = std::str::from_utf8(&frame[at + 1..name_end])
        .map_err(|_| bad("name (not UTF-8)"))?
        .to_owned();
    let kind = frame[name_end];
    let v = name_end + 1;
    let fixed = |n: usize| -> Result<&[u8], Corrupt> {
        frame
            .get(v..v + n)
            .filter(|_| v + n <= end)
            .ok_or_else(|| bad("value length"))
    };
    let (value, next) = match kind {
        0 => (HeaderValue::Bool(true), v),
        1 => (HeaderValue::Bool(false), v),
        2 => (HeaderValue::Byte(fixed(1)?[0] as i8), v + 1),
        3 => {
            let b = fixed(2)?;
            (HeaderValue::Int16(i16::from_be_bytes([b[0], b[1]])), v + 2)
        }
        4 => (HeaderValue::Int32(be_u32(fixed(4)?) as i32), v + 4),
        5 => (HeaderValue::Int64(be_i64(fixed(8)?)), v + 8),
        6 | 7 => {
            let b = fixed(2)?;
            let len = usize::from(u16::from_be_bytes([b[0], b[1]]));
            let (start, stop) = (v + 2, v + 2 + len);
            if stop > end {
                return Err(bad("value length"));
            }
            let bytes = frame.slice(start..stop);
            let value = if kind == 7 {
                HeaderValue::String(
                    StrBytes::try_from(bytes).map_err(|_| bad("value (not UTF-8)"))?,
                )
            } else {
                HeaderValue::ByteArray(bytes)
            };
            (value, stop)
        }
        8 => (
            HeaderValue::Timestamp(DateTime::from_millis(be_i64(fixed(8)?))),
            v + 8,
        ),
        9 => {
            let b = fixed(16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            (HeaderValue::Uuid(u128::from_be_bytes(a)), v + 16)
        }
        other => return Err(format!("invalid header value type {other} at byte {at}")),
    };
    Ok(((name, value), next))
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}
