//! Kiro through the `Upstream` trait, as a router calls it: the prepare phase's message id is
//! the one every event carries, a Kiro answer's failover cause reaches the caller, and a
//! `ModelRouter` fails over from a throttled Kiro and comes back to it after the cooldown.

mod client_harness;

use client_harness::{request, Harness, Token};
use conduit_core::{Call, Event, FailoverCause, Upstream};
use conduit_sim::{errors, Rule};
use futures::StreamExt;

async fn call(
    upstream: &dyn Upstream,
    message_id: &str,
) -> Result<Vec<Event>, conduit_core::Error> {
    let request = request("hello");
    let Some(model) = upstream.resolve(&request.model).await else {
        panic!("Kiro resolves every model");
    };
    let call = Call {
        request,
        model,
        message_id: message_id.to_string(),
    };
    let stream = upstream.send(call).await?;
    Ok(stream.filter_map(|e| async move { e.ok() }).collect().await)
}

#[tokio::test]
async fn the_calls_message_id_is_used() {
    let h = Harness::start(Token::Valid).await;
    let up = h.upstream();
    let events = call(&up, "msg_from_the_router").await.unwrap_or_default();
    let ids: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::MessageStart { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, ["msg_from_the_router"]);
}

#[tokio::test]
async fn a_throttled_answer_carries_its_cause() {
    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::error(errors::throttling()));
    let up = h.upstream();
    let Err(e) = call(&up, "msg_x").await else {
        panic!("want an error");
    };
    assert_eq!(e.cause, Some(FailoverCause::Throttled), "{}", e.message);
}

#[tokio::test]
async fn a_router_fails_over_from_a_throttled_kiro_and_comes_back() {
    use std::sync::Arc;
    use std::time::Duration;

    use conduit_testkit::FakeUpstream;
    use conduit_upstream::clock::{Clock, ManualClock};
    use conduit_upstream::router::{ModelRouter, RouterSettings};

    let h = Harness::start(Token::Valid).await;
    h.sim.add_rule(Rule::error(errors::throttling()).times(3));
    let kiro: Arc<dyn Upstream> = Arc::new(h.upstream());
    let fake = Arc::new(FakeUpstream::new("backup"));
    let clock = Arc::new(ManualClock::default());
    let router = ModelRouter::new(
        vec![kiro, Arc::clone(&fake) as Arc<dyn Upstream>],
        vec![],
        RouterSettings::default(),
        Arc::clone(&clock) as Arc<dyn Clock>,
    )
    .unwrap();

    let routed = router.send(request("hello")).await.unwrap();
    assert_eq!(routed.upstream, "backup", "Kiro retried, then failed over");
    assert_eq!(fake.calls()[0].message_id, routed.message_id);
    assert_eq!(h.chats(), 3, "Kiro's own retries came first");
    let states: Vec<_> = router.status().into_iter().map(|s| s.state).collect();
    assert_eq!(
        states,
        [
            conduit_core::UpstreamState::CoolingDown,
            conduit_core::UpstreamState::Ready
        ]
    );

    assert_eq!(
        router.send(request("hello")).await.unwrap().upstream,
        "backup"
    );
    assert_eq!(h.chats(), 3, "Kiro is not called while it cools down");
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        router.send(request("hello")).await.unwrap().upstream,
        "kiro"
    );
}
