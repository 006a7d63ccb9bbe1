#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn normalised_ids() {
    let cases = [
        // Anthropic API ids and aliases.
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-0", "claude-opus-4-0"),
        ("Claude-Opus-4-5", "claude-opus-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku-latest"),
        // Bedrock: region prefix, `anthropic.`, the `-v1:0` suffix, the date, ARNs.
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("global.anthropic.claude-opus-4-7", "claude-opus-4-7"),
        ("apac.anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("us-gov.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("anthropic.claude-3-opus-20240229-v1:0", "claude-3-opus"),
        ("us.anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-haiku-4-5-20251001-v1:0",
            "claude-haiku-4-5",
        ),
        // Vertex.
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
        ("claude-opus-4-1@20250805", "claude-opus-4-1"),
        // Kiro: dots, and its internal upper-case ids.
        ("claude-sonnet-4.5", "claude-sonnet-4-5"),
        ("claude-3.7-sonnet", "claude-3-7-sonnet"),
        ("CLAUDE_SONNET_4_5_20250929_V1_0", "claude-sonnet-4-5"),
        // Not a version or a date: kept.
        ("claude-vision-x", "claude-vision-x"),
        ("  claude-haiku-5-5  ", "claude-haiku-5-5"),
    ];
    for (id, want) in cases {
        assert_eq!(normalise(id), want, "{id}");
    }
}

#[test]
fn key_matching() {
    // (normalised id, key, minor_versions, matches)
    let cases = [
        ("claude-opus-4", "claude-opus-4", false, true),
        ("claude-opus-4-0", "claude-opus-4", false, true),
        ("claude-opus-4-latest", "claude-opus-4", false, true),
        ("claude-opus-4-7", "claude-opus-4", false, false),
        ("claude-opus-45", "claude-opus-4", false, false),
        ("claude-sonnet-4-7", "claude-sonnet-4", true, true),
        ("claude-sonnet-4-5", "claude-sonnet-4", true, true),
        ("claude-sonnet-40", "claude-sonnet-4", true, false),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet", false, true),
        ("claude-haiku", "claude-haiku-4-5", false, false),
    ];
    for (id, key, minor, want) in cases {
        assert_eq!(key_matches(id, key, minor), want, "{id} ~ {key}");
    }
}
