//! Kiro through the `Upstream` trait, as a router calls it: the prepare phase's message id is
//! the one every event carries, and a Kiro answer's failover cause reaches the caller.

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
        input_tokens: conduit_core::tokens::count_request(&request),
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
