//! Native reasoning against the simulator: the effort goes out as
//! `additionalModelRequestFields.output_config.effort` (never `thinking`), signed reasoning comes
//! back as thinking blocks with Kiro's own signature, and the next turn replays it nested so the
//! simulator's signature check passes, also across a tool round trip. A tampered signature is
//! the client's error, sent once and not retried.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is the failure report"
)]

mod client_harness;

use client_harness::{Harness, Token};
use conduit_core::{
    collect, Block, Effort, ErrorKind, Message, Request, Response, Role, Thinking, Tool,
    ToolResultContent,
};
use conduit_kiro::reasoning::is_placeholder_signature;
use conduit_sim::{Account, AccountKind, Profile, Rule, Sim, SimConfig, Step};
use serde_json::{json, Value};

fn read_tool() -> Tool {
    Tool {
        name: "Read".into(),
        description: "Read a file".into(),
        input_schema: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
    }
}

fn request(messages: Vec<Message>) -> Request {
    Request {
        model: "claude-opus-4-8".into(),
        messages,
        tools: vec![read_tool()],
        thinking: Thinking::Adaptive,
        effort: Some(Effort::High),
        max_tokens: Some(8_000),
        stream: true,
        ..Request::default()
    }
}

async fn ask(h: &Harness, req: Request) -> Result<Response, conduit_core::Error> {
    collect(h.upstream().send(req).await?).await
}

/// The bodies of the chat requests the simulator received, in order.
fn chat_bodies(h: &Harness) -> Vec<Value> {
    h.sim
        .log()
        .into_iter()
        .filter(|e| e.body.get("conversationState").is_some())
        .map(|e| e.body)
        .collect()
}

fn signed_thinking(r: &Response) -> (String, String) {
    let (text, signature) = r
        .content
        .iter()
        .find_map(|b| match b {
            Block::Thinking {
                text,
                signature: Some(s),
            } => Some((text.clone(), s.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no signed thinking block in {:?}", r.content));
    assert!(!is_placeholder_signature(&signature), "{signature}");
    (text, signature)
}

#[tokio::test]
async fn signed_reasoning_round_trips_through_a_tool_call() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(
        Rule::reply(vec![
            Step::reasoning("I should read a.txt first."),
            Step::tool_use("Read", json!({"path": "a.txt"})),
        ])
        .times(1),
    );

    // Turn 1: reasoning and a tool call.
    let first_user = Message::user_text("What does a.txt say?");
    let r1 = ask(&h, request(vec![first_user.clone()])).await.unwrap();
    let (text, signature) = signed_thinking(&r1);
    assert_eq!(text, "I should read a.txt first.");
    let tool_id = r1
        .content
        .iter()
        .find_map(|b| match b {
            Block::ToolUse { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap();
    let sent = &chat_bodies(&h)[0];
    assert_eq!(
        sent["additionalModelRequestFields"],
        json!({"output_config": {"effort": "high"}})
    );
    assert!(!sent.to_string().contains("\"thinking\":{"), "{sent}");
    assert!(!sent.to_string().contains("<thinking_mode>"), "{sent}");

    // Turn 2: the tool result; the history carries turn 1's reasoning nested, as received.
    let mut messages = vec![
        first_user,
        Message {
            role: Role::Assistant,
            content: r1.content.clone(),
        },
        Message {
            role: Role::User,
            content: vec![Block::ToolResult {
                tool_use_id: tool_id,
                content: vec![ToolResultContent::Text("hello".into())],
                is_error: false,
            }],
        },
    ];
    let r2 = ask(&h, request(messages.clone())).await.unwrap();
    let sent = &chat_bodies(&h)[1];
    assert_eq!(
        sent["conversationState"]["history"][1]["assistantResponseMessage"]["reasoningContent"],
        json!({"reasoningText": {"text": text, "signature": signature}})
    );
    signed_thinking(&r2);

    // Turn 3: both earlier reasonings replayed, and accepted again.
    messages.push(Message {
        role: Role::Assistant,
        content: r2.content.clone(),
    });
    messages.push(Message::user_text("Thanks."));
    ask(&h, request(messages)).await.unwrap();
    assert_eq!(h.chats(), 3);
}

#[tokio::test]
async fn a_tampered_signature_is_a_client_error_sent_once() {
    let h = Harness::start(Token::Valid).await;
    let first_user = Message::user_text("Hi");
    let r1 = ask(&h, request(vec![first_user.clone()])).await.unwrap();
    let (text, signature) = signed_thinking(&r1);
    let mut tampered = signature.clone();
    tampered.insert(tampered.len() / 2, 'x');
    let messages = vec![
        first_user,
        Message {
            role: Role::Assistant,
            content: vec![
                Block::Thinking {
                    text,
                    signature: Some(tampered),
                },
                Block::Text("Hello!".into()),
            ],
        },
        Message::user_text("Again"),
    ];
    let before = h.chats();
    let err = ask(&h, request(messages)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidRequest, "{err:?}");
    assert!(!err.retryable);
    assert!(err.message.contains("signature"), "{}", err.message);
    assert_eq!(h.chats(), before + 1, "sent once, not retried");
}

#[tokio::test]
async fn no_effort_asked_means_no_field_and_no_reasoning_shown() {
    let h = Harness::start(Token::Valid).await;
    let mut req = request(vec![Message::user_text("Hi")]);
    req.thinking = Thinking::Disabled;
    req.effort = None;
    let r = ask(&h, req).await.unwrap();
    assert!(
        r.content
            .iter()
            .all(|b| !matches!(b, Block::Thinking { .. } | Block::RedactedThinking { .. })),
        "{:?}",
        r.content
    );
    let sent = &chat_bodies(&h)[0];
    assert!(sent.get("additionalModelRequestFields").is_none(), "{sent}");
}

#[tokio::test]
async fn redacted_reasoning_comes_back_and_is_replayed() {
    let h = Harness::start(Token::Valid).await;
    h.sim
        .add_rule(Rule::reply(vec![Step::redacted_reasoning(), Step::text("Done.")]).times(1));
    let first_user = Message::user_text("Hi");
    let r1 = ask(&h, request(vec![first_user.clone()])).await.unwrap();
    let data = r1
        .content
        .iter()
        .find_map(|b| match b {
            Block::RedactedThinking { data } => Some(data.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no redacted block in {:?}", r1.content));
    let messages = vec![
        first_user,
        Message {
            role: Role::Assistant,
            content: r1.content.clone(),
        },
        Message::user_text("Again"),
    ];
    ask(&h, request(messages)).await.unwrap();
    let sent = &chat_bodies(&h)[1];
    assert_eq!(
        sent["conversationState"]["history"][1]["assistantResponseMessage"]["reasoningContent"],
        json!({"redactedContent": data})
    );
}

#[tokio::test]
async fn usage_is_exact_and_credits_are_counted() {
    let h = Harness::start(Token::Valid).await;
    let stream = h
        .upstream()
        .send(request(vec![Message::user_text("Hi")]))
        .await
        .unwrap();
    let r = collect(stream).await.unwrap();
    assert!(!r.usage.estimated, "{:?}", r.usage);
    assert!(r.usage.output_tokens > 0);
    assert!(r.usage.credits.is_some_and(|c| c > 0.0), "{:?}", r.usage);
}

/// Kiro refuses any `additionalModelRequestFields` from an Entra ID (external IdP) account: such
/// an account gets its answer without the field.
#[tokio::test]
async fn an_entra_id_account_is_never_sent_the_field() {
    const ARN: &str = "arn:aws:codewhisperer:us-east-1:333333333333:profile/ENTRA";
    let sim = Sim::start(SimConfig::default()).await.unwrap();
    sim.add_account(
        Account::new("access-entra", "refresh-entra")
            .with_kind(AccountKind::ExternalIdp)
            .with_tenant("contoso")
            .with_profiles(vec![Profile::new(ARN)]),
    );
    let dir = std::env::temp_dir().join(format!("conduit-entra-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token.json");
    let token = json!({"accountKind": "external_idp", "accessToken": "access-entra",
        "refreshToken": "refresh-entra", "expiresAt": "2099-01-01T00:00:00.000Z",
        "clientId": "entra-public-client", "tenantId": "contoso", "profileArn": ARN});
    std::fs::write(&file, token.to_string()).unwrap();
    let base = sim.base_url();
    let env = |k: &str| match k {
        "CONDUIT_KIRO_API_URL"
        | "CONDUIT_KIRO_AUTH_URL"
        | "CONDUIT_SSO_OIDC_URL"
        | "CONDUIT_IDP_URL" => Some(base.clone()),
        "ACCOUNT_SYSTEM" => Some("false".into()),
        _ => None,
    };
    let mut config = conduit_kiro::config::KiroConfig::from_env(env, dir.clone()).unwrap();
    config.creds_file = Some(file);
    let upstream = conduit_kiro::upstream::KiroUpstream::new(config).unwrap();
    let r = collect(
        upstream
            .send(request(vec![Message::user_text("Hi")]))
            .await
            .unwrap(),
    )
    .await;
    let chats: Vec<Value> = sim
        .log()
        .into_iter()
        .filter(|e| e.body.get("conversationState").is_some())
        .map(|e| e.body)
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    r.unwrap();
    assert_eq!(chats.len(), 1);
    assert!(
        chats[0].get("additionalModelRequestFields").is_none(),
        "{}",
        chats[0]
    );
}
