//! [`FakeUpstream`]: an [`Upstream`] whose answers are scripted per call (events, an error, an
//! error inside the stream, a delay), with an optional Messages lane, and which records every
//! call it received so a test can assert what the gateway or router sent.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use conduit_core::upstream::{CountFuture, MessagesFuture, SendFuture};
use conduit_core::{
    Call, Error, Event, EventStream, MessagesCall, MessagesReply, MessagesUpstream, ModelInfo,
    RawEvent, ResolveFuture, ResolvedModel, Upstream, UpstreamKind, UpstreamState, UpstreamStatus,
};
use futures::StreamExt;

use crate::events::{messages_text_turn, text_turn};

/// What one canonical call answers.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// These events after a `MessageStart` with the call's id, model and estimate (a list that
    /// starts with its own `MessageStart` is sent as it is).
    Events(Vec<Event>),
    /// `send` fails with this error (before the first byte).
    Error(Error),
    /// These events, then this error inside the stream.
    ErrorInStream(Vec<Event>, Error),
    /// Waits (tokio time), then answers.
    Delay(Duration, Box<Outcome>),
}

impl Outcome {
    /// A text turn.
    pub fn text(text: &str) -> Self {
        Outcome::Events(text_turn(text))
    }
}

/// What one Messages-lane call answers.
#[derive(Debug, Clone)]
pub enum MessagesOutcome {
    Stream(Vec<RawEvent>),
    /// These events, then this error inside the stream.
    StreamThenError(Vec<RawEvent>, Error),
    /// A whole non-streaming Messages body.
    Json(Bytes),
    Error(Error),
    Delay(Duration, Box<MessagesOutcome>),
}

/// A scripted upstream. Unscripted calls answer a text turn "from {id}".
#[derive(Debug)]
pub struct FakeUpstream {
    id: String,
    models: Vec<String>,
    context_window: u32,
    max_output_tokens: u32,
    script: Mutex<VecDeque<Outcome>>,
    lane: Option<Lane>,
    calls: Mutex<Vec<Call>>,
    messages_calls: Mutex<Vec<MessagesCall>>,
    /// Calls of the lane's exact `count_tokens`.
    count_calls: Mutex<Vec<MessagesCall>>,
    status: Mutex<(UpstreamState, Option<String>)>,
}

#[derive(Debug)]
struct Lane {
    script: Mutex<VecDeque<MessagesOutcome>>,
    count: Mutex<Result<u32, Error>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `*` any run of characters, `?` one character.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl FakeUpstream {
    /// An upstream `id` serving every model (`*`), 200 000-token window.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            models: vec!["*".into()],
            context_window: 200_000,
            max_output_tokens: 64_000,
            script: Mutex::new(VecDeque::new()),
            lane: None,
            calls: Mutex::new(Vec::new()),
            messages_calls: Mutex::new(Vec::new()),
            count_calls: Mutex::new(Vec::new()),
            status: Mutex::new((UpstreamState::Ready, None)),
        }
    }

    /// The models it resolves: exact names or globs (`claude-*`).
    pub fn serving<S: Into<String>>(mut self, models: impl IntoIterator<Item = S>) -> Self {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }

    pub fn context_window(mut self, tokens: u32) -> Self {
        self.context_window = tokens;
        self
    }

    /// Gives it a Messages lane; its exact `count_tokens` answers `count`.
    pub fn with_messages_lane(mut self, count: u32) -> Self {
        self.lane = Some(Lane {
            script: Mutex::new(VecDeque::new()),
            count: Mutex::new(Ok(count)),
        });
        self
    }

    /// Queues the answer of the next unscripted canonical call.
    pub fn push(&self, outcome: Outcome) -> &Self {
        lock(&self.script).push_back(outcome);
        self
    }

    /// Queues the answer of the next Messages-lane call (ignored without a lane).
    pub fn push_messages(&self, outcome: MessagesOutcome) -> &Self {
        if let Some(lane) = &self.lane {
            lock(&lane.script).push_back(outcome);
        }
        self
    }

    /// What the lane's `count_tokens` answers from now on.
    pub fn set_count(&self, count: Result<u32, Error>) {
        if let Some(lane) = &self.lane {
            *lock(&lane.count) = count;
        }
    }

    /// What `status` reports from now on.
    pub fn set_state(&self, state: UpstreamState, reason: Option<&str>) {
        *lock(&self.status) = (state, reason.map(str::to_string));
    }

    /// Every canonical call received, in order.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// Every Messages-lane call received, in order.
    pub fn messages_calls(&self) -> Vec<MessagesCall> {
        lock(&self.messages_calls).clone()
    }

    /// Every exact `count_tokens` call of the Messages lane.
    pub fn count_calls(&self) -> Vec<MessagesCall> {
        lock(&self.count_calls).clone()
    }

    /// Sends of both lanes (not counting `count_tokens`).
    pub fn call_count(&self) -> usize {
        lock(&self.calls).len() + lock(&self.messages_calls).len()
    }

    fn serves(&self, model: &str) -> bool {
        self.models.iter().any(|m| glob(m, model))
    }
}

async fn canonical(outcome: Outcome, call: Call) -> Result<EventStream, Error> {
    let mut outcome = outcome;
    while let Outcome::Delay(by, next) = outcome {
        tokio::time::sleep(by).await;
        outcome = *next;
    }
    let (events, error) = match outcome {
        Outcome::Error(e) => return Err(e),
        Outcome::Events(events) => (events, None),
        Outcome::ErrorInStream(events, e) => (events, Some(e)),
        Outcome::Delay(..) => (Vec::new(), None),
    };
    let mut items: Vec<Result<Event, Error>> = Vec::new();
    if !matches!(events.first(), Some(Event::MessageStart { .. })) {
        items.push(Ok(Event::MessageStart {
            id: call.message_id.clone(),
            model: call.model.client.clone(),
            input_tokens: call.input_tokens_estimate(),
        }));
    }
    items.extend(events.into_iter().map(Ok));
    items.extend(error.map(Err));
    Ok(futures::stream::iter(items).boxed())
}

async fn messages(outcome: MessagesOutcome) -> Result<MessagesReply, Error> {
    let mut outcome = outcome;
    while let MessagesOutcome::Delay(by, next) = outcome {
        tokio::time::sleep(by).await;
        outcome = *next;
    }
    let (events, error) = match outcome {
        MessagesOutcome::Error(e) => return Err(e),
        MessagesOutcome::Json(body) => return Ok(MessagesReply::Json(body)),
        MessagesOutcome::Stream(events) => (events, None),
        MessagesOutcome::StreamThenError(events, e) => (events, Some(e)),
        MessagesOutcome::Delay(..) => (Vec::new(), None),
    };
    let items: Vec<Result<RawEvent, Error>> =
        events.into_iter().map(Ok).chain(error.map(Err)).collect();
    Ok(MessagesReply::Stream(futures::stream::iter(items).boxed()))
}

impl Upstream for FakeUpstream {
    fn id(&self) -> &str {
        &self.id
    }

    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Fake
    }

    /// Serves the configured models as `{id}.{model}`.
    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a> {
        let resolved = self.serves(model).then(|| ResolvedModel {
            client: model.to_string(),
            upstream: format!("{}.{model}", self.id),
            context_window: self.context_window,
            max_output_tokens: self.max_output_tokens,
        });
        Box::pin(std::future::ready(resolved))
    }

    fn send(&self, call: Call) -> SendFuture<'_> {
        lock(&self.calls).push(call.clone());
        let id = self.id.clone();
        let outcome = lock(&self.script)
            .pop_front()
            .unwrap_or_else(|| Outcome::text(&format!("from {id}")));
        Box::pin(canonical(outcome, call))
    }

    /// The exact (non-glob) model names it serves.
    fn models(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .filter(|m| !m.contains(['*', '?']))
            .map(|m| ModelInfo {
                id: m.clone(),
                display_name: format!("{m} ({})", self.id),
                context_window: self.context_window,
                max_output_tokens: self.max_output_tokens,
            })
            .collect()
    }

    fn context_window(&self, _model: &str) -> u32 {
        self.context_window
    }

    fn status(&self) -> UpstreamStatus {
        let (state, reason) = lock(&self.status).clone();
        UpstreamStatus {
            id: self.id.clone(),
            kind: UpstreamKind::Fake,
            state,
            reason,
            cooldown_until: None,
            detail: serde_json::Value::Null,
        }
    }

    fn messages(&self) -> Option<&dyn MessagesUpstream> {
        self.lane.as_ref().map(|_| self as &dyn MessagesUpstream)
    }
}

impl MessagesUpstream for FakeUpstream {
    fn send_messages(&self, call: MessagesCall) -> MessagesFuture<'_> {
        let model = call.model.client.clone();
        lock(&self.messages_calls).push(call);
        let scripted = self
            .lane
            .as_ref()
            .and_then(|lane| lock(&lane.script).pop_front());
        let id = self.id.clone();
        let outcome = scripted.unwrap_or_else(|| {
            MessagesOutcome::Stream(messages_text_turn(
                "msg_fake",
                &model,
                &format!("from {id}"),
            ))
        });
        Box::pin(messages(outcome))
    }

    fn count_messages_tokens(&self, call: MessagesCall) -> CountFuture<'_> {
        lock(&self.count_calls).push(call);
        let count = self
            .lane
            .as_ref()
            .map_or(Ok(0), |lane| lock(&lane.count).clone());
        Box::pin(std::future::ready(count))
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        let cases = [
            ("*", "anything", true),
            ("claude-*", "claude-opus-4-7", true),
            ("claude-*", "gpt-5", false),
            ("claude-?-x", "claude-4-x", true),
            ("claude-?-x", "claude-44-x", false),
            ("*-4-7", "claude-opus-4-7", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (p, n, want) in cases {
            assert_eq!(glob(p, n), want, "{p} {n}");
        }
    }
}
