use image::{Rgb, RgbImage, Rgba, RgbaImage};

use super::*;

fn encode(img: DynamicImage, format: ImageFormat) -> String {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn noise(w: u32, h: u32) -> DynamicImage {
    // Pseudo-random pixels, so that compression cannot make a large image small.
    let mut state = 0x2545_f491_u32;
    DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        Rgb([a, b, c])
    }))
}

fn flat(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb([200, 30, 30])))
}

fn transparent(w: u32, h: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_pixel(w, h, Rgba([0, 0, 255, 100])))
}

/// What Kiro gets: the format, and the image's size after conversion (or the note).
fn outcome(data: String, declared: &str) -> String {
    let img = Image {
        media_type: declared.into(),
        data: data.clone(),
    };
    match kiro_image(&img) {
        Ok(k) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(&k.source.bytes)
                .unwrap();
            let size = ImageReader::new(Cursor::new(&bytes))
                .with_guessed_format()
                .unwrap()
                .into_dimensions()
                .map_or("not an image".to_string(), |(w, h)| format!("{w}x{h}"));
            let same = if k.source.bytes == data {
                "unchanged"
            } else {
                "re-encoded"
            };
            format!("{} {size} {same}", k.format)
        }
        Err(note) => note,
    }
}

#[test]
fn real_type_from_magic_bytes_and_over_limit_images_downscaled() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "png as png",
            encode(flat(40, 30), ImageFormat::Png),
            "image/png",
        ),
        (
            "jpeg declared png",
            encode(flat(40, 30), ImageFormat::Jpeg),
            "image/png",
        ),
        (
            "png declared jpeg",
            encode(flat(40, 30), ImageFormat::Png),
            "image/jpeg",
        ),
        (
            "gif declared webp",
            encode(flat(40, 30), ImageFormat::Gif),
            "image/webp",
        ),
        (
            "webp declared png",
            encode(flat(40, 30), ImageFormat::WebP),
            "image/png",
        ),
        (
            "unknown bytes keep the declared type",
            "AAAAAAAAAAAAAAAA".into(),
            "image/gif",
        ),
        (
            "longest side over 8000 px",
            encode(flat(9_000, 20), ImageFormat::Png),
            "image/png",
        ),
        (
            "too many bytes for a Kiro request",
            encode(noise(700, 500), ImageFormat::Png),
            "image/png",
        ),
        (
            "transparent and too large stays png",
            encode(transparent(8_500, 40), ImageFormat::Png),
            "image/png",
        ),
        (
            "within limits is left alone",
            encode(noise(120, 100), ImageFormat::Jpeg),
            "image/jpeg",
        ),
        (
            "invalid base64",
            "!!!not base64!!!".repeat(20_000),
            "image/png",
        ),
    ];
    let table: Vec<String> = cases
        .into_iter()
        .map(|(name, data, declared)| format!("{name}: {}", outcome(data, declared)))
        .collect();
    insta::assert_debug_snapshot!(table);
}

#[test]
fn a_converted_image_is_remembered() {
    let img = Image {
        media_type: "image/png".into(),
        data: encode(flat(9_000, 20), ImageFormat::Png),
    };
    let first = kiro_image(&img).unwrap();
    let again = kiro_image(&img).unwrap();
    assert_eq!(first, again);
    assert_eq!(first.format, "jpeg");
}
