use super::*;

fn live(models: &[(&str, u32, u32)]) -> ModelList {
    ModelList {
        models: models
            .iter()
            .map(|(id, input, output)| KiroModel {
                model_id: (*id).to_string(),
                model_name: None,
                max_input_tokens: *input,
                max_output_tokens: *output,
                request_fields_schema: None,
                supported_input_types: Vec::new(),
            })
            .collect(),
        live: true,
    }
}

/// The late-2026 catalogue of spec §9.7 (the simulator's default).
fn late_2026() -> ModelList {
    live(&[
        ("auto", 1_000_000, 64_000),
        ("claude-sonnet-4", 200_000, 64_000),
        ("claude-sonnet-4.5", 200_000, 64_000),
        ("claude-sonnet-4.6", 1_000_000, 64_000),
        ("claude-sonnet-5", 1_000_000, 64_000),
        ("claude-haiku-4.5", 200_000, 64_000),
        ("claude-opus-4.5", 200_000, 64_000),
        ("claude-opus-4.6", 1_000_000, 64_000),
        ("claude-opus-4.7", 1_000_000, 64_000),
        ("claude-opus-4.8", 1_000_000, 64_000),
        ("claude-opus-5", 1_000_000, 128_000),
        ("deepseek-3.2", 200_000, 32_000),
        ("gpt-5.6-sol", 272_000, 64_000),
    ])
}

fn check(list: &ModelList, table: &[(&str, &str)]) {
    for (client, expected) in table {
        let got = resolve_model(client, &HashMap::new(), list);
        assert_eq!(got.kiro_id, *expected, "client name {client:?}");
    }
}

#[test]
fn maps_client_names_over_the_static_table() {
    check(
        &ModelList::fallback(),
        &[
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
            ("claude-sonnet-4-5", "claude-sonnet-4.5"),
            ("claude-sonnet-4.5", "claude-sonnet-4.5"),
            ("claude-sonnet-4-6[1m]", "claude-sonnet-4.6"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("claude-sonnet-4-0", "claude-sonnet-4"),
            ("claude-sonnet-4-5@20250929", "claude-sonnet-4.5"),
            ("claude-3-7-sonnet-20250219", "claude-sonnet-4"),
            ("claude-3-5-sonnet-latest", "claude-sonnet-4"),
            ("claude-sonnet-5", "claude-sonnet-4.6"),
            ("claude-sonnet-4-7", "claude-sonnet-4.6"),
            ("claude-opus-4-7", "claude-opus-4.7"),
            ("claude-opus-4-6", "claude-opus-4.6"),
            ("claude-opus-4-5-20251101", "claude-opus-4.5"),
            ("claude-opus-4-1-20250805", "claude-opus-4.5"),
            ("claude-opus-4-8", "claude-opus-4.7"),
            ("claude-opus-5-5", "claude-opus-4.7"),
            ("claude-opus-5", "claude-opus-4.7"),
            ("claude-opus-latest", "claude-opus-4.7"),
            ("claude-4.5-opus-high", "claude-opus-4.5"),
            ("Claude-Opus-4-6-Thinking", "claude-opus-4.6"),
            ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
            ("claude-3-5-haiku-20241022", "claude-haiku-4.5"),
            ("claude-haiku-9", "claude-haiku-4.5"),
            // Families the table lacks get its best model.
            ("claude-unknown", "claude-opus-4.7"),
            ("claude-fable-5-1", "claude-opus-4.7"),
            // A Kiro id newer than the table knows passes through (the catalogue never answered).
            ("claude-opus-4.8", "claude-opus-4.8"),
            ("deepseek-3.3", "deepseek-3.3"),
            ("auto", "auto"),
            ("auto-kiro", "auto"),
            ("deepseek-3.2", "deepseek-3.2"),
            ("gpt-4o", "auto"),
            ("gpt-4.1", "auto"),
            ("", "auto"),
        ],
    );
}

/// Claude Code 2.1.3xx names (spec claude-code.md) over the late-2026 catalogue.
#[test]
fn maps_client_names_over_a_live_catalogue() {
    check(
        &late_2026(),
        &[
            ("claude-opus-5-5", "claude-opus-5"),
            ("claude-opus-5-5[1m]", "claude-opus-5"),
            ("claude-opus-5", "claude-opus-5"),
            ("claude-opus-4-8", "claude-opus-4.8"),
            ("claude-opus-4-8[1m]", "claude-opus-4.8"),
            ("claude-sonnet-5-5", "claude-sonnet-5"),
            ("claude-sonnet-5", "claude-sonnet-5"),
            ("claude-sonnet-4-6[1m]", "claude-sonnet-4.6"),
            ("claude-haiku-5-5", "claude-haiku-4.5"),
            ("claude-haiku-4-5", "claude-haiku-4.5"),
            ("claude-fable-5-1", "claude-opus-5"),
            ("claude-mythos-5", "claude-opus-5"),
            ("claude-opus-4-9", "claude-opus-5"),
            // Dot forms: newer than the family's newest → a new Kiro id; else mapped.
            ("claude-opus-5.1", "claude-opus-5.1"),
            ("claude-opus-4.9", "claude-opus-5"),
            ("gpt-5.6-sol", "gpt-5.6-sol"),
            ("gpt-5.7-sol", "gpt-5.7-sol"),
            ("gpt-4.1", "auto"),
            ("gpt-4o", "auto"),
            ("glm-5", "auto"),
        ],
    );
}

#[test]
fn limits_and_schema_come_from_the_list() {
    let mut list = late_2026();
    let schema = serde_json::json!({"type": "object", "properties": {}});
    list.models[4].request_fields_schema = Some(schema.clone());
    let got = resolve_model("claude-sonnet-5-5", &HashMap::new(), &list);
    assert_eq!(
        got,
        ResolvedModel {
            kiro_id: "claude-sonnet-5".into(),
            context_window: 1_000_000,
            max_output_tokens: 64_000,
            request_fields_schema: Some(schema),
        }
    );
    let unknown = resolve_model("claude-opus-5.1", &HashMap::new(), &list);
    assert_eq!(
        (unknown.context_window, unknown.request_fields_schema),
        (DEFAULT_CONTEXT_WINDOW, None)
    );
}

#[test]
fn overrides_win_for_exact_names_only() {
    let overrides = HashMap::from([("claude-opus-5-5".to_string(), "claude-opus-4.6".to_string())]);
    let list = ModelList::fallback();
    assert_eq!(
        resolve_model("claude-opus-5-5", &overrides, &list).kiro_id,
        "claude-opus-4.6"
    );
    assert_eq!(
        resolve_model("claude-opus-5-6", &overrides, &list).kiro_id,
        "claude-opus-4.7"
    );
}

#[test]
fn client_ids_resolve_back_to_their_model() {
    for list in [ModelList::fallback(), late_2026()] {
        for m in &list.models {
            let id = client_id(&m.model_id);
            assert_eq!(
                resolve_model(&id, &HashMap::new(), &list).kiro_id,
                m.model_id,
                "{id}"
            );
        }
    }
    let names: Vec<_> = late_2026()
        .models
        .iter()
        .map(|m| (client_id(&m.model_id), display_name(m)))
        .collect();
    insta::assert_debug_snapshot!(names);
}
