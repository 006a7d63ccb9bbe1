//! The router against scripted fake upstreams and a manual clock: failover order, cooldowns
//! and the way back, which errors stop at once, the final error, the Messages lane, counting,
//! the model union and status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is the failure report"
)]

use std::sync::Arc;
use std::time::Duration;

use conduit_core::{
    collect, Error, ErrorKind, FailoverCause, Message, MessagesReply, Request, UpstreamState,
};
use conduit_testkit::{FakeUpstream, Outcome};
use serde_json::json;

use super::*;
use crate::clock::ManualClock;

fn throttled(who: &str) -> Error {
    Error::new(ErrorKind::RateLimited, format!("{who} is throttling"))
        .with_cause(FailoverCause::Throttled)
}

fn server_error(who: &str) -> Error {
    Error::new(ErrorKind::Overloaded, format!("{who} is failing"))
        .with_cause(FailoverCause::ServerError)
}

fn unavailable(who: &str) -> Error {
    Error::new(
        ErrorKind::InvalidRequest,
        format!("{who} has no such model"),
    )
    .with_cause(FailoverCause::ModelUnavailable)
}

fn credentials(who: &str) -> Error {
    Error::new(ErrorKind::Credentials, format!("{who} refused our key"))
        .with_cause(FailoverCause::Credentials)
}

fn text_of(response: &conduit_core::Response) -> String {
    response
        .content
        .iter()
        .filter_map(|b| match b {
            conduit_core::Block::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

fn request(model: &str) -> Request {
    Request {
        model: model.into(),
        messages: vec![Message::user_text("hello")],
        max_tokens: Some(100),
        ..Request::default()
    }
}

struct Setup {
    fakes: Vec<Arc<FakeUpstream>>,
    router: ModelRouter,
    clock: Arc<ManualClock>,
}

impl Setup {
    fn new(fakes: Vec<FakeUpstream>, routes: &[(&[&str], &[&str])]) -> Self {
        let fakes: Vec<Arc<FakeUpstream>> = fakes.into_iter().map(Arc::new).collect();
        let clock = Arc::new(ManualClock::default());
        let routes = routes
            .iter()
            .map(|(models, ups)| RouteRule {
                models: models.iter().map(|s| s.to_string()).collect(),
                upstreams: ups.iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        let router = ModelRouter::new(
            fakes
                .iter()
                .map(|f| Arc::clone(f) as Arc<dyn Upstream>)
                .collect(),
            routes,
            RouterSettings::default(),
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .unwrap();
        Self {
            fakes,
            router,
            clock,
        }
    }

    fn abc() -> Self {
        Self::new(
            vec![
                FakeUpstream::new("a"),
                FakeUpstream::new("b"),
                FakeUpstream::new("c"),
            ],
            &[],
        )
    }

    fn fake(&self, id: &str) -> &FakeUpstream {
        self.fakes
            .iter()
            .find(|f| conduit_core::Upstream::id(&***f) == id)
            .unwrap()
    }

    /// Sends one request: the answering upstream and its text, or the error.
    async fn ask(&self, model: &str) -> Result<(String, String, u32), Error> {
        let routed = self.router.send(request(model)).await?;
        let response = collect(routed.value).await?;
        Ok((routed.upstream, text_of(&response), routed.attempts))
    }

    fn calls(&self) -> Vec<usize> {
        self.fakes.iter().map(|f| f.call_count()).collect()
    }

    fn order(&self, model: &str) -> Vec<String> {
        self.router
            .candidates(model)
            .iter()
            .map(|u| u.id().to_string())
            .collect()
    }
}

#[tokio::test]
async fn one_request_over_three_upstreams() {
    // (name, scripted first answers of a, b, c, want Ok(upstream) or Err(kind, text), calls)
    type Script = [Option<Error>; 3];
    type Want = Result<&'static str, (ErrorKind, &'static str)>;
    let cases: Vec<(&str, Script, Want, [usize; 3])> = vec![
        ("first answers", [None, None, None], Ok("a"), [1, 0, 0]),
        (
            "throttled → second",
            [Some(throttled("a")), None, None],
            Ok("b"),
            [1, 1, 0],
        ),
        (
            "throttled, 5xx → third",
            [Some(throttled("a")), Some(server_error("b")), None],
            Ok("c"),
            [1, 1, 1],
        ),
        (
            "model unavailable → next",
            [Some(unavailable("a")), None, None],
            Ok("b"),
            [1, 1, 0],
        ),
        (
            "credentials → next",
            [Some(credentials("a")), None, None],
            Ok("b"),
            [1, 1, 0],
        ),
        (
            "a client error stops at once",
            [Some(Error::invalid_request("bad tool schema")), None, None],
            Err((ErrorKind::InvalidRequest, "bad tool schema")),
            [1, 0, 0],
        ),
        (
            "all fail: the last throttled error, naming the tries",
            [
                Some(server_error("a")),
                Some(throttled("b")),
                Some(server_error("c")),
            ],
            Err((
                ErrorKind::RateLimited,
                "b is throttling (3 upstreams tried: a, b, c)",
            )),
            [1, 1, 1],
        ),
        (
            "all fail, none throttled: the last error",
            [
                Some(server_error("a")),
                Some(credentials("b")),
                Some(server_error("c")),
            ],
            Err((ErrorKind::Overloaded, "c is failing (3 upstreams tried")),
            [1, 1, 1],
        ),
    ];
    for (name, script, want, calls) in cases {
        let s = Setup::abc();
        for (fake, outcome) in s.fakes.iter().zip(script) {
            if let Some(e) = outcome {
                fake.push(Outcome::Error(e));
            }
        }
        let got = s.ask("claude-x").await;
        match (&got, want) {
            (Ok((up, text, _)), Ok(want)) => {
                assert_eq!(up, want, "{name}");
                assert_eq!(text, &format!("from {want}"), "{name}");
            }
            (Err(e), Err((kind, text))) => {
                assert_eq!(e.kind, kind, "{name}: {}", e.message);
                assert!(e.message.contains(text), "{name}: {}", e.message);
            }
            _ => panic!("{name}: got {:?}", got.map(|g| g.0)),
        }
        assert_eq!(s.calls(), calls, "{name}");
    }
}

#[tokio::test]
async fn the_message_id_and_request_are_the_same_on_every_try() {
    let s = Setup::abc();
    s.fake("a").push(Outcome::Error(throttled("a")));
    s.fake("b").push(Outcome::Error(server_error("b")));
    let routed = s.router.send(request("claude-x")).await.unwrap();
    assert_eq!(routed.attempts, 3);
    assert_eq!(routed.model.upstream, "c.claude-x");
    let calls: Vec<_> = s.fakes.iter().flat_map(|f| f.calls()).collect();
    assert_eq!(calls.len(), 3);
    for call in &calls {
        assert_eq!(call.message_id, routed.message_id);
        assert_eq!(call.request.messages, calls[0].request.messages);
        assert_eq!(
            call.input_tokens_estimate(),
            calls[0].input_tokens_estimate()
        );
    }
    assert!(routed.message_id.starts_with("msg_"));
    let events = collect(routed.value).await.unwrap();
    assert_eq!(events.id, routed.message_id);
}

#[tokio::test]
async fn cooldowns_skip_the_upstream_and_it_comes_back_after_them() {
    let s = Setup::abc();
    s.fake("a").push(Outcome::Error(throttled("a")));
    assert_eq!(s.ask("m").await.unwrap().0, "b");
    assert_eq!(s.order("m"), ["b", "c", "a"], "a cools down, tried last");
    let status = s.router.status();
    assert_eq!(status[0].state, UpstreamState::CoolingDown);
    assert!(status[0].cooldown_until.is_some());
    assert!(
        status[0].reason.as_deref().unwrap().contains("throttled"),
        "{:?}",
        status[0].reason
    );
    assert_eq!(status[1].state, UpstreamState::Ready);

    assert_eq!(s.ask("m").await.unwrap().0, "b");
    assert_eq!(s.calls(), [1, 2, 0], "a is not called while cooling down");

    s.clock.advance(Duration::from_secs(29));
    assert_eq!(s.ask("m").await.unwrap().0, "b");
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(s.order("m"), ["a", "b", "c"]);
    assert_eq!(
        s.ask("m").await.unwrap().0,
        "a",
        "back to the preferred upstream"
    );
    assert_eq!(s.router.status()[0].state, UpstreamState::Ready);
}

#[tokio::test]
async fn what_cools_down_and_for_how_long() {
    // (cause, cooling after 29 s, cooling after 31 s, cooling after 301 s)
    let cases = [
        (throttled("a"), true, false, false),
        (server_error("a"), true, false, false),
        (
            Error::new(ErrorKind::Timeout, "slow").with_cause(FailoverCause::Timeout),
            true,
            false,
            false,
        ),
        (credentials("a"), true, true, false),
        (unavailable("a"), false, false, false),
    ];
    for (error, at29, at31, at301) in cases {
        let name = error.message.clone();
        let s = Setup::abc();
        s.fake("a").push(Outcome::Error(error));
        assert_eq!(s.ask("m").await.unwrap().0, "b", "{name}");
        let cooling = |s: &Setup| s.order("m")[0] != "a";
        s.clock.advance(Duration::from_secs(29));
        assert_eq!(cooling(&s), at29, "{name} at 29 s");
        s.clock.advance(Duration::from_secs(2));
        assert_eq!(cooling(&s), at31, "{name} at 31 s");
        s.clock.advance(Duration::from_secs(270));
        assert_eq!(cooling(&s), at301, "{name} at 301 s");
    }
}

#[tokio::test]
async fn errors_inside_the_stream_do_not_fail_over() {
    let s = Setup::abc();
    s.fake("a").push(Outcome::ErrorInStream(
        conduit_testkit::text_turn("par")[..2].to_vec(),
        server_error("a"),
    ));
    let routed = s.router.send(request("m")).await.unwrap();
    assert_eq!(routed.upstream, "a");
    assert!(collect(routed.value).await.is_err());
    assert_eq!(s.calls(), [1, 0, 0]);
}

#[tokio::test]
async fn routes_choose_and_order_the_upstreams() {
    let s = Setup::new(
        vec![
            FakeUpstream::new("kiro"),
            FakeUpstream::new("bedrock-us"),
            FakeUpstream::new("bedrock-eu").serving(["claude-*"]),
        ],
        &[
            (
                &["claude-*", "*opus*"],
                &["bedrock-us", "bedrock-eu", "kiro"],
            ),
            (&["gpt-?"], &["kiro"]),
        ],
    );
    assert_eq!(
        s.order("claude-opus-4-7"),
        ["bedrock-us", "bedrock-eu", "kiro"]
    );
    assert_eq!(s.order("my-opus"), ["bedrock-us", "bedrock-eu", "kiro"]);
    assert_eq!(s.order("gpt-5"), ["kiro"]);
    assert_eq!(
        s.order("other"),
        ["kiro", "bedrock-us", "bedrock-eu"],
        "no rule: all"
    );

    s.fake("bedrock-us").push(Outcome::Error(throttled("us")));
    assert_eq!(s.ask("claude-sonnet-4-6").await.unwrap().0, "bedrock-eu");
    // bedrock-eu does not serve `my-opus`: it is skipped, not tried.
    assert_eq!(s.ask("my-opus").await.unwrap().0, "kiro");
    assert_eq!(s.calls(), [1, 1, 1]);
}

#[tokio::test]
async fn a_model_no_upstream_serves_is_not_found() {
    let s = Setup::new(
        vec![
            FakeUpstream::new("a").serving(["claude-*"]),
            FakeUpstream::new("b").serving(["gpt-5"]),
        ],
        &[],
    );
    let e = s.ask("llama-3").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(
        e.message,
        "model `llama-3` is not served by any configured upstream"
    );
    assert_eq!(s.calls(), [0, 0]);
}

#[test]
fn unknown_or_duplicate_upstreams_are_refused() {
    let make = |ids: &[&str], route: &[&str]| {
        ModelRouter::new(
            ids.iter()
                .map(|id| Arc::new(FakeUpstream::new(id)) as Arc<dyn Upstream>)
                .collect(),
            vec![RouteRule {
                models: vec!["*".into()],
                upstreams: route.iter().map(|s| s.to_string()).collect(),
            }],
            RouterSettings::default(),
            Arc::new(ManualClock::default()),
        )
        .err()
        .map(|e| e.message)
    };
    assert_eq!(make(&["a", "b"], &["b", "a"]), None);
    let e = make(&["a", "b"], &["a", "bedrock"]).unwrap();
    assert!(
        e.contains("upstream `bedrock`, which is not configured (configured: a, b)"),
        "{e}"
    );
    let e = make(&["a", "a"], &["a"]).unwrap();
    assert!(e.contains("two upstreams are named `a`"), "{e}");
}

fn raw() -> RawMessages {
    RawMessages {
        body: json!({"model": "claude-x", "max_tokens": 100, "messages": []})
            .to_string()
            .into(),
        headers: vec![("anthropic-beta".into(), "x-2025".into())],
        stream: true,
    }
}

#[tokio::test]
async fn anthropic_requests_take_the_messages_lane_where_there_is_one() {
    let s = Setup::new(
        vec![
            FakeUpstream::new("bedrock").with_messages_lane(42),
            FakeUpstream::new("kiro"),
        ],
        &[],
    );
    let routed = s
        .router
        .send_anthropic(request("claude-x"), raw())
        .await
        .unwrap();
    assert_eq!(routed.upstream, "bedrock");
    assert!(matches!(
        routed.value,
        Lane::Messages(MessagesReply::Stream(_))
    ));
    let sent = s.fake("bedrock").messages_calls();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].model.upstream, "bedrock.claude-x");
    assert_eq!(sent[0].headers, raw().headers);
    assert!(sent[0].stream);
    assert!(
        s.fake("bedrock").calls().is_empty(),
        "not the canonical lane"
    );

    s.fake("bedrock")
        .push_messages(conduit_testkit::MessagesOutcome::Error(throttled(
            "bedrock",
        )));
    let routed = s
        .router
        .send_anthropic(request("claude-x"), raw())
        .await
        .unwrap();
    assert_eq!(routed.upstream, "kiro");
    assert_eq!(routed.attempts, 2);
    let Lane::Canonical(events) = routed.value else {
        panic!("kiro has no Messages lane");
    };
    assert_eq!(text_of(&collect(events).await.unwrap()), "from kiro");
}

#[tokio::test]
async fn count_tokens_is_exact_where_a_lane_counts() {
    let s = Setup::new(
        vec![
            FakeUpstream::new("bedrock")
                .serving(["claude-*"])
                .with_messages_lane(1234),
            FakeUpstream::new("kiro"),
        ],
        &[],
    );
    let estimate = conduit_core::tokens::count_request(&request("claude-x"));
    assert_eq!(
        s.router
            .count_tokens(&request("claude-x"), Some(raw()))
            .await,
        1234
    );
    assert_eq!(
        s.router.count_tokens(&request("claude-x"), None).await,
        estimate
    );
    assert_eq!(
        s.router.count_tokens(&request("gpt-5"), Some(raw())).await,
        estimate
    );
    s.fake("bedrock").set_count(Err(throttled("bedrock")));
    assert_eq!(
        s.router
            .count_tokens(&request("claude-x"), Some(raw()))
            .await,
        estimate
    );
}

#[tokio::test]
async fn models_are_the_union_first_upstream_first() {
    let s = Setup::new(
        vec![
            FakeUpstream::new("a").serving(["m1", "m2", "claude-*"]),
            FakeUpstream::new("b")
                .serving(["m2", "m3"])
                .context_window(1_000_000),
        ],
        &[],
    );
    let models = s.router.list_models().await;
    let ids: Vec<(&str, &str)> = models
        .iter()
        .map(|m| (m.id.as_str(), m.display_name.as_str()))
        .collect();
    assert_eq!(ids, [("m1", "m1 (a)"), ("m2", "m2 (a)"), ("m3", "m3 (b)")]);
    assert_eq!(models[2].context_window, 1_000_000);
}

#[test]
fn status_keeps_what_the_upstream_says() {
    let s = Setup::abc();
    s.fake("b")
        .set_state(UpstreamState::NeedsCredentials, Some("no key"));
    let status = s.router.status();
    let states: Vec<_> = status.iter().map(|s| (s.id.as_str(), s.state)).collect();
    assert_eq!(
        states,
        [
            ("a", UpstreamState::Ready),
            ("b", UpstreamState::NeedsCredentials),
            ("c", UpstreamState::Ready)
        ]
    );
    assert_eq!(status[1].reason.as_deref(), Some("no key"));
}
