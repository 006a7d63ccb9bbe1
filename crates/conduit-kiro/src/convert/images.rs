//! Images for Kiro: the real format from the bytes, and images over the limits made smaller.
//!
//! Clients declare a media type that is often wrong (a screenshot tool saving JPEG bytes as
//! `image.png`); Kiro decodes by the `format` it is told, so the format comes from the magic
//! bytes (PNG, JPEG, GIF, WebP), the declared type only when the bytes match none.
//!
//! Limits (none is published for Kiro; spec §3.4 rule 14 quotes 10 MB per image from kiro-cli,
//! and rule 15 a ~600 KB cap on the whole request): an image is downscaled when its longest
//! side is over [`MAX_SIDE`] (Anthropic's limit), its bytes over [`MAX_BYTES`] (Anthropic's
//! 5 MB), or its base64 over [`MAX_BASE64`] (a third of Kiro's request cap, so that one image
//! cannot push the request past it). It is scaled to fit [`TARGET_SIDE`] on the longest side
//! (what Anthropic itself scales to, so the model sees no less), re-encoded as JPEG (PNG when it
//! has transparency), and made 30 % smaller again while still over the byte budget (down to
//! [`MIN_SIDE`]). An image that cannot be decoded or re-encoded is left out, with a short note
//! in its place.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use conduit_core::Image;
use image::{DynamicImage, ImageFormat, ImageReader};

use crate::wire::{ImageSource, KiroImage};

pub const MAX_SIDE: u32 = 8_000;
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_BASE64: usize = 200_000;
pub const TARGET_SIDE: u32 = 1_568;
/// Images are not made smaller than this on the longest side to meet the byte budget.
pub const MIN_SIDE: u32 = 256;
/// Decoding refuses larger images (a decompression bomb costs no more than this).
const DECODE_MAX_SIDE: u32 = 20_000;
const DECODE_MAX_ALLOC: u64 = 512 * 1024 * 1024;
const JPEG_QUALITY: u8 = 85;
/// Converted images remembered (clients resend the same history images every turn).
const MEMO_MAX: usize = 64;

/// The Kiro image for `img`, or the note that replaces an image that cannot be sent.
pub fn kiro_image(img: &Image) -> Result<KiroImage, String> {
    let declared = declared_format(&img.media_type);
    // The common case needs only the first bytes: small enough, and the type from its magic.
    if img.data.len() <= MAX_BASE64 && !needs_dimensions_check(&img.data) {
        let format = sniff(&prefix(&img.data)).unwrap_or(declared);
        return Ok(kiro(format, img.data.clone()));
    }
    memoised(img, || convert(img, declared))
}

fn kiro(format: &str, bytes: String) -> KiroImage {
    KiroImage {
        format: format.to_string(),
        source: ImageSource { bytes },
    }
}

/// PNG and WebP headers are cheap to read whole; JPEG and GIF under the size cap are taken as
/// they are (a JPEG over 8000 px in under 150 KB is not a thing clients send).
fn needs_dimensions_check(data: &str) -> bool {
    let head = prefix(data);
    match sniff(&head) {
        Some("png") => header_side_png(&head).is_none_or(|s| s > MAX_SIDE),
        Some("webp") => true,
        _ => false,
    }
}

fn header_side_png(head: &[u8]) -> Option<u32> {
    let w = u32::from_be_bytes(head.get(16..20)?.try_into().ok()?);
    let h = u32::from_be_bytes(head.get(20..24)?.try_into().ok()?);
    Some(w.max(h))
}

/// The first 36 decoded bytes (48 base64 characters).
fn prefix(data: &str) -> Vec<u8> {
    let cut = data.char_indices().nth(48).map_or(data.len(), |(i, _)| i);
    base64::engine::general_purpose::STANDARD
        .decode(&data[..cut])
        .unwrap_or_default()
}

fn declared_format(media_type: &str) -> &'static str {
    match media_type
        .strip_prefix("image/")
        .unwrap_or(media_type)
        .to_ascii_lowercase()
        .as_str()
    {
        "jpg" | "jpeg" => "jpeg",
        "gif" => "gif",
        "webp" => "webp",
        _ => "png",
    }
}

/// The format named by the magic bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else {
        None
    }
}

fn memoised(
    img: &Image,
    f: impl FnOnce() -> Result<KiroImage, String>,
) -> Result<KiroImage, String> {
    type Memo = Mutex<HashMap<[u8; 32], Result<KiroImage, String>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    use sha2::Digest as _;
    let key: [u8; 32] = sha2::Sha256::digest(img.data.as_bytes()).into();
    let memo = MEMO.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = memo.lock().ok().and_then(|m| m.get(&key).cloned()) {
        return hit;
    }
    let result = f();
    if let Ok(mut m) = memo.lock() {
        if m.len() >= MEMO_MAX {
            m.clear();
        }
        m.insert(key, result.clone());
    }
    result
}

fn convert(img: &Image, declared: &'static str) -> Result<KiroImage, String> {
    let engine = base64::engine::general_purpose::STANDARD;
    let cleaned: String = img
        .data
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let Ok(bytes) = engine.decode(&cleaned) else {
        return Err("[image omitted: its base64 data is invalid]".into());
    };
    let format = sniff(&bytes).unwrap_or(declared);
    let reader = || {
        let mut r = ImageReader::new(Cursor::new(&bytes[..]));
        r.set_format(image_format(format));
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(DECODE_MAX_SIDE);
        limits.max_image_height = Some(DECODE_MAX_SIDE);
        limits.max_alloc = Some(DECODE_MAX_ALLOC);
        r.limits(limits);
        r
    };
    let side = reader().into_dimensions().map(|(w, h)| w.max(h)).ok();
    let over =
        side.is_some_and(|s| s > MAX_SIDE) || bytes.len() > MAX_BYTES || cleaned.len() > MAX_BASE64;
    if !over {
        return Ok(kiro(format, cleaned));
    }
    let decoded = reader().decode().map_err(|e| {
        format!("[image omitted: it is over the size limits and could not be decoded ({e})]")
    })?;
    // Fit the target side; while the result is still over the byte budget, 30 % smaller.
    let mut side = TARGET_SIDE.min(decoded.width().max(decoded.height()));
    loop {
        let (format, data) = shrink(&decoded, side)?;
        let encoded = engine.encode(&data);
        if encoded.len() <= MAX_BASE64 || side <= MIN_SIDE {
            tracing::debug!(
                from = bytes.len(),
                to = data.len(),
                side,
                "downscaled an image for Kiro"
            );
            return Ok(kiro(format, encoded));
        }
        side = (side * 7 / 10).max(MIN_SIDE);
    }
}

fn image_format(format: &str) -> ImageFormat {
    match format {
        "jpeg" => ImageFormat::Jpeg,
        "gif" => ImageFormat::Gif,
        "webp" => ImageFormat::WebP,
        _ => ImageFormat::Png,
    }
}

/// Scales to fit `side` (never up) and encodes: PNG if the image has an alpha channel, else JPEG.
fn shrink(img: &DynamicImage, side: u32) -> Result<(&'static str, Vec<u8>), String> {
    let scaled = if img.width().max(img.height()) > side {
        img.resize(side, side, image::imageops::FilterType::Triangle)
    } else {
        img.clone()
    };
    let mut out = Vec::new();
    let result = if scaled.color().has_alpha() {
        scaled
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .map(|()| "png")
    } else {
        let rgb = DynamicImage::ImageRgb8(scaled.to_rgb8());
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        rgb.write_with_encoder(encoder).map(|()| "jpeg")
    };
    result
        .map(|format| (format, out))
        .map_err(|e| format!("[image omitted: it could not be re-encoded ({e})]"))
}

#[cfg(test)]
mod tests;
