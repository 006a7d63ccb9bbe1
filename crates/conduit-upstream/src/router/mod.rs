//! [`ModelRouter`]: several upstreams behind one gateway. Per request it picks the upstreams a
//! [`RouteRule`] names for the client's model (in preference order, those cooling down last),
//! does the prepare phase once (the message id; each candidate resolves the model itself), and
//! fails over before the first byte on errors that carry a
//! [`conduit_core::FailoverCause`]. Cooldowns are the [`crate::scheduler`]'s bookkeeping, one
//! "account" per upstream: after its cooldown the preferred upstream is first again.

mod glob;
mod info;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use conduit_core::{
    Call, Error, ErrorKind, EventStream, FailoverCause, MessagesCall, MessagesReply, Request,
    ResolvedModel, Upstream,
};
use serde_json::{Map, Value};

use crate::clock::Clock;
use crate::scheduler::{Reason, Scheduler, SchedulerConfig};

pub use glob::glob_match;

/// Which upstreams serve which client model names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRule {
    /// Globs on the client's model name: `*` any run of characters, `?` one character.
    pub models: Vec<String>,
    /// Upstream ids, in order of preference.
    pub upstreams: Vec<String>,
}

/// How long an upstream rests after a failover-worthy error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterSettings {
    /// After throttling, 5xx or a timeout.
    pub cooldown: Duration,
    /// After a credential failure (nothing changes until someone fixes the credentials).
    pub credentials_cooldown: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(30),
            credentials_cooldown: Duration::from_secs(300),
        }
    }
}

/// An Anthropic client's request as it came (a [`MessagesCall`] minus the resolved model).
/// The body stays bytes until an upstream with a Messages lane takes it: a request that Kiro
/// answers never builds the JSON tree.
#[derive(Debug, Clone, Default)]
pub struct RawMessages {
    pub body: Bytes,
    /// Pass-through headers, lower-case names.
    pub headers: Vec<(String, String)>,
    pub stream: bool,
}

impl RawMessages {
    fn call(&self, model: ResolvedModel) -> Result<MessagesCall, Error> {
        let body = serde_json::from_slice::<Map<String, Value>>(&self.body)
            .map_err(|e| Error::invalid_request(format!("the body is not a JSON object: {e}")))?;
        Ok(MessagesCall {
            body,
            headers: self.headers.clone(),
            model,
            stream: self.stream,
        })
    }
}

/// How an Anthropic client's request was answered: through the canonical path, or by an
/// upstream's Messages lane (its own events, to be relayed as they are).
pub enum Lane {
    Canonical(EventStream),
    Messages(MessagesReply),
}

/// An answer and who gave it.
pub struct Routed<T> {
    pub value: T,
    /// The id of the upstream that answered.
    pub upstream: String,
    /// The model as that upstream resolved it.
    pub model: ResolvedModel,
    /// The message id minted once for the request (the same on every try).
    pub message_id: String,
    /// Upstreams tried, the answering one included.
    pub attempts: u32,
}

/// Routes requests over several upstreams, with failover and cooldowns.
pub struct ModelRouter {
    upstreams: Vec<Arc<dyn Upstream>>,
    /// Per rule: its globs and the indices of its upstreams.
    routes: Vec<(Vec<String>, Vec<usize>)>,
    cooldowns: Mutex<Scheduler>,
    clock: Arc<dyn Clock>,
}

/// The canonical request for each try: a copy while another candidate may follow, the request
/// itself for the last (usually the only) one, so a 100 KB conversation is not copied for
/// nothing.
struct PerTry(Option<Request>);

impl PerTry {
    fn get(&mut self, last: bool) -> Request {
        if last {
            self.0.take().unwrap_or_default()
        } else {
            self.0.clone().unwrap_or_default()
        }
    }
}

/// The prepare phase's work, done once per request.
struct Prepared {
    message_id: String,
}

/// What one try on one upstream gave.
enum Tried<T> {
    Answer(T),
    Failed(Error),
}

impl ModelRouter {
    /// Fails when a route names an upstream that is not configured, or two upstreams share
    /// an id.
    pub fn new(
        upstreams: Vec<Arc<dyn Upstream>>,
        routes: Vec<RouteRule>,
        settings: RouterSettings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let ids: Vec<String> = upstreams.iter().map(|u| u.id().to_string()).collect();
        for (i, id) in ids.iter().enumerate() {
            if ids[..i].contains(id) {
                return Err(Error::invalid_request(format!(
                    "two upstreams are named `{id}`: give each a different name"
                )));
            }
        }
        let mut indexed = Vec::with_capacity(routes.len());
        for rule in routes {
            let mut order = Vec::with_capacity(rule.upstreams.len());
            for name in &rule.upstreams {
                let Some(i) = ids.iter().position(|id| id == name) else {
                    return Err(Error::invalid_request(format!(
                        "the route for {:?} names upstream `{name}`, which is not configured (configured: {})",
                        rule.models,
                        ids.join(", ")
                    )));
                };
                order.push(i);
            }
            indexed.push((rule.models, order));
        }
        let config = SchedulerConfig {
            cooldown_base: settings.cooldown,
            cooldown_cap: settings.cooldown,
            quota_cooldown: settings.cooldown,
            risk_cooldown: settings.cooldown,
            credentials_cooldown: Some(settings.credentials_cooldown),
            ..SchedulerConfig::default()
        };
        Ok(Self {
            upstreams,
            routes: indexed,
            cooldowns: Mutex::new(Scheduler::new(config, ids)),
            clock,
        })
    }

    /// Every upstream, in configuration order.
    pub fn upstreams(&self) -> &[Arc<dyn Upstream>] {
        &self.upstreams
    }

    pub fn get(&self, id: &str) -> Option<&Arc<dyn Upstream>> {
        self.upstreams.iter().find(|u| u.id() == id)
    }

    fn sched(&self) -> MutexGuard<'_, Scheduler> {
        self.cooldowns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The upstreams for `model` by index: the first rule whose glob matches (no rules, or no
    /// match: every upstream in configuration order), those cooling down moved last.
    fn order(&self, model: &str) -> Vec<usize> {
        let order = self
            .routes
            .iter()
            .find(|(globs, _)| globs.iter().any(|g| glob_match(g, model)))
            .map(|(_, order)| order.clone())
            .unwrap_or_else(|| (0..self.upstreams.len()).collect());
        let now = self.clock.now();
        let sched = self.sched();
        let (ready, cooling): (Vec<usize>, Vec<usize>) = order
            .into_iter()
            .partition(|&i| sched.cooling_until(i, now).is_none());
        ready.into_iter().chain(cooling).collect()
    }

    /// The upstreams that may serve `model`, in the order they are tried.
    pub fn candidates(&self, model: &str) -> Vec<Arc<dyn Upstream>> {
        self.order(model)
            .into_iter()
            .map(|i| Arc::clone(&self.upstreams[i]))
            .collect()
    }

    /// Sends on the canonical lane (OpenAI clients, and Anthropic clients to upstreams without
    /// a Messages lane).
    pub async fn send(&self, request: Request) -> Result<Routed<EventStream>, Error> {
        let prepared = prepare();
        let client_model = request.model.clone();
        let mut request = PerTry(Some(request));
        self.route(&client_model, &prepared, |up, model, last| {
            let call = Call {
                request: request.get(last),
                model,
                message_id: prepared.message_id.clone(),
            };
            async move { up.send(call).await }
        })
        .await
    }

    /// Sends an Anthropic client's request: per candidate through its Messages lane if it has
    /// one, else the canonical lane.
    pub async fn send_anthropic(
        &self,
        request: Request,
        raw: RawMessages,
    ) -> Result<Routed<Lane>, Error> {
        let prepared = prepare();
        let client_model = request.model.clone();
        let mut request = PerTry(Some(request));
        self.route(&client_model, &prepared, |up, model, last| {
            // Only what this candidate's lane takes is built: the canonical request (or its
            // copy) or the client's JSON tree, never both.
            let try_lane = match up.messages() {
                Some(lane) => Err((lane, raw.call(model))),
                None => Ok(Call {
                    request: request.get(last),
                    model,
                    message_id: prepared.message_id.clone(),
                }),
            };
            async move {
                match try_lane {
                    Ok(canonical) => up.send(canonical).await.map(Lane::Canonical),
                    Err((lane, messages)) => {
                        lane.send_messages(messages?).await.map(Lane::Messages)
                    }
                }
            }
        })
        .await
    }

    /// The tries of one request: each candidate that resolves the model, until one answers or
    /// fails without a failover cause.
    async fn route<'a, T, F, Fut>(
        &'a self,
        model: &str,
        prepared: &Prepared,
        mut send: F,
    ) -> Result<Routed<T>, Error>
    where
        F: FnMut(&'a Arc<dyn Upstream>, ResolvedModel, bool) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let mut tried: Vec<&str> = Vec::new();
        let mut last: Option<Error> = None;
        let mut last_throttled: Option<Error> = None;
        let order = self.order(model);
        let candidates = order.len();
        for (pos, i) in order.into_iter().enumerate() {
            let up = &self.upstreams[i];
            let Some(resolved) = up.resolve(model).await else {
                continue;
            };
            tried.push(up.id());
            let is_last = pos + 1 == candidates;
            let error = match self.try_one(i, send(up, resolved.clone(), is_last).await) {
                Tried::Answer(value) => {
                    return Ok(Routed {
                        value,
                        upstream: up.id().to_string(),
                        model: resolved,
                        message_id: prepared.message_id.clone(),
                        attempts: tried.len() as u32,
                    })
                }
                Tried::Failed(e) if e.cause.is_none() => return Err(e),
                Tried::Failed(e) => e,
            };
            if error.cause == Some(FailoverCause::Throttled) || error.kind == ErrorKind::RateLimited
            {
                last_throttled = Some(error.clone());
            }
            last = Some(error);
        }
        let Some(error) = last_throttled.or(last) else {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("model `{model}` is not served by any configured upstream"),
            ));
        };
        if tried.len() < 2 {
            return Err(error);
        }
        let message = format!(
            "{} ({} upstreams tried: {})",
            error.message,
            tried.len(),
            tried.join(", ")
        );
        Err(Error { message, ..error })
    }

    /// Books the outcome of a try: a success ends a cooldown, a failover cause starts one.
    fn try_one<T>(&self, index: usize, result: Result<T, Error>) -> Tried<T> {
        match result {
            Ok(value) => {
                self.sched().succeeded(index);
                Tried::Answer(value)
            }
            Err(e) => {
                if let Some(reason) = e.cause.and_then(cooldown_reason) {
                    let now = self.clock.now();
                    let until =
                        self.sched()
                            .failed_with(index, reason, now, Some(e.message.clone()), None);
                    tracing::warn!(
                        upstream = self.upstreams[index].id(),
                        cause = e.cause.map(FailoverCause::as_str),
                        until = %crate::clock::format_time(until),
                        "upstream cooling down; failing over"
                    );
                } else if let Some(cause) = e.cause {
                    tracing::info!(
                        upstream = self.upstreams[index].id(),
                        cause = cause.as_str(),
                        "upstream cannot serve this request; trying the next"
                    );
                }
                Tried::Failed(e)
            }
        }
    }
}

fn prepare() -> Prepared {
    Prepared {
        message_id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
    }
}

/// How long an upstream rests for a cause: `None` for a model it does not serve (another
/// model on it is fine).
fn cooldown_reason(cause: FailoverCause) -> Option<Reason> {
    match cause {
        FailoverCause::Throttled | FailoverCause::Quota | FailoverCause::RiskControl => {
            Some(Reason::Throttled)
        }
        FailoverCause::ServerError => Some(Reason::ServerError),
        FailoverCause::Timeout => Some(Reason::Timeout),
        FailoverCause::Credentials | FailoverCause::Suspended => Some(Reason::Credentials),
        FailoverCause::ModelUnavailable => None,
    }
}

#[cfg(test)]
mod tests;
