//! The live model catalogue: ListAvailableModels per account (spec §9.7, the REST form
//! `GET {api}/ListAvailableModels?origin=AI_EDITOR`, never with a `profileArn`), cached for a TTL
//! (`CONDUIT_MODELS_TTL`, default 3600 s), one fetch in flight per account, the last good answer
//! kept when a refresh fails. Until an account has answered once, the static table of
//! [`crate::models`] stands in.
//!
//! Requests resolve model names against [`Catalog::merged`]: every answered account's list,
//! the first account's entry winning for an id several lists share. Time comes from the
//! injectable [`Clock`] of [`crate::accounts`], so tests move it instead of sleeping.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use conduit_core::{Error, ErrorKind, ModelInfo};
use reqwest::header::{AUTHORIZATION, USER_AGENT};
use serde_json::Value;
use time::OffsetDateTime;

use crate::accounts::Clock;
use crate::auth::{Auth, Token};
use crate::config::KiroConfig;
use crate::models::{self, KiroModel, ModelList, DEFAULT_CONTEXT_WINDOW};

/// How long an answer is used before it is fetched again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// After a failed fetch, the next try waits this long (or the TTL, if shorter).
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(60);
/// How long one fetch (all its pages) may take; requests wait for it on a cold catalogue.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(8);
/// Pages followed through `nextToken`.
const MAX_PAGES: usize = 10;

/// The model lists of every account, each cached with a TTL.
pub struct Catalog {
    ttl: Duration,
    clock: Arc<dyn Clock>,
    slots: Vec<Slot>,
    /// [`Catalog::merged`]'s answer, built once per change of any account's list: every
    /// request reads it, so it is shared, not rebuilt.
    merged: Mutex<Option<Arc<ModelList>>>,
}

struct Slot {
    state: Mutex<SlotState>,
    /// Held while this account's list is being fetched: one fetch at a time.
    flight: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct SlotState {
    /// The last good answer.
    list: Option<Arc<ModelList>>,
    fetched_at: Option<OffsetDateTime>,
    failed_at: Option<OffsetDateTime>,
}

impl Catalog {
    pub fn new(accounts: usize, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            ttl,
            clock,
            slots: (0..accounts)
                .map(|_| Slot {
                    state: Mutex::new(SlotState::default()),
                    flight: tokio::sync::Mutex::new(()),
                })
                .collect(),
            merged: Mutex::new(None),
        }
    }

    fn state(&self, index: usize) -> Option<MutexGuard<'_, SlotState>> {
        self.slots
            .get(index)
            .map(|s| s.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether account `index` should be fetched now: never answered or older than the TTL,
    /// and no failed try within the retry delay.
    fn due(&self, index: usize) -> bool {
        let now = self.clock.now();
        let Some(st) = self.state(index) else {
            return false;
        };
        if let Some(failed) = st.failed_at {
            if now < failed + RETRY_AFTER_FAILURE.min(self.ttl) {
                return false;
            }
        }
        st.fetched_at.is_none_or(|at| now >= at + self.ttl)
    }

    /// Fetches account `index`'s list with `fetch` if it is due. Concurrent callers never start
    /// a second fetch: they wait for the one in flight when the account never answered, and
    /// go on with the last good answer otherwise; a failure keeps the last good answer.
    pub async fn refresh_with<F, Fut>(&self, index: usize, fetch: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<ModelList, Error>>,
    {
        let Some(slot) = self.slots.get(index) else {
            return;
        };
        if !self.due(index) {
            return;
        }
        // With an answer in hand, a caller that finds a fetch in flight goes on with it
        // rather than wait; without one, it waits for the fetch.
        let _flight = match slot.flight.try_lock() {
            Ok(guard) => guard,
            Err(_) if self.account(index).is_some() => return,
            Err(_) => slot.flight.lock().await,
        };
        if !self.due(index) {
            return;
        }
        let result = match tokio::time::timeout(FETCH_TIMEOUT, fetch()).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                "Kiro did not answer ListAvailableModels in time",
            )),
        };
        let now = self.clock.now();
        let Some(mut st) = self.state(index) else {
            return;
        };
        match result {
            Ok(list) => {
                tracing::debug!(
                    account = index,
                    models = list.models.len(),
                    "Kiro model list fetched"
                );
                st.list = Some(Arc::new(list));
                st.fetched_at = Some(now);
                st.failed_at = None;
                drop(st);
                *self.merged.lock().unwrap_or_else(|p| p.into_inner()) = None;
            }
            Err(e) => {
                tracing::warn!(
                    account = index,
                    kept = st.list.is_some(),
                    "could not fetch the Kiro model list: {}",
                    e.message
                );
                st.failed_at = Some(now);
            }
        }
    }

    /// Account `index`'s last good answer, if it ever answered.
    pub fn account(&self, index: usize) -> Option<Arc<ModelList>> {
        self.state(index).and_then(|st| st.list.clone())
    }

    /// Every answered account's models (the first account's entry wins for a shared id), or
    /// the static table when none has answered. Never fetches.
    pub fn merged(&self) -> Arc<ModelList> {
        let mut cached = self.merged.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = cached.as_ref() {
            return list.clone();
        }
        let list = Arc::new(self.build_merged());
        // The static table is not kept: the first answer must replace it at once.
        if list.live {
            *cached = Some(list.clone());
        }
        list
    }

    fn build_merged(&self) -> ModelList {
        let lists: Vec<Arc<ModelList>> = (0..self.slots.len())
            .filter_map(|i| self.account(i))
            .collect();
        if lists.is_empty() {
            return ModelList::fallback();
        }
        let mut models: Vec<KiroModel> = Vec::new();
        for list in &lists {
            for m in &list.models {
                if !models.iter().any(|k| k.model_id == m.model_id) {
                    models.push(m.clone());
                }
            }
        }
        ModelList { models, live: true }
    }
}

/// A model as the gateway lists it (`/v1/models`, `conduit configure-claude`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// The client-facing id: Claude ids in dash form (`claude-opus-4-6`), others as Kiro has them.
    pub id: String,
    /// The Kiro id (`claude-opus-4.6`).
    pub kiro_id: String,
    pub display_name: String,
    /// `maxInputTokens`.
    pub context_window: u32,
    /// `maxOutputTokens`.
    pub max_output_tokens: u32,
    /// Whether `{id}[1m]` may be listed: the window really is at least 1M.
    pub one_million: bool,
    /// Whether the model's schema admits native reasoning (`output_config.effort`).
    pub reasoning: bool,
    /// Whether the entry comes from Kiro (false: the static table).
    pub live: bool,
}

/// The entries of a list, in its order.
pub fn entries(list: &ModelList) -> Vec<Entry> {
    list.models
        .iter()
        .map(|m| Entry {
            id: models::client_id(&m.model_id),
            kiro_id: m.model_id.clone(),
            display_name: models::display_name(m),
            context_window: m.max_input_tokens,
            max_output_tokens: m.max_output_tokens,
            one_million: m.max_input_tokens >= models::ONE_MILLION,
            reasoning: crate::reasoning::supports_native(m.request_fields_schema.as_ref()),
            live: list.live,
        })
        .collect()
}

/// [`entries`] in the core's upstream-neutral shape.
pub fn model_infos(list: &ModelList) -> Vec<ModelInfo> {
    entries(list)
        .into_iter()
        .map(|e| ModelInfo {
            id: e.id,
            display_name: e.display_name,
            context_window: e.context_window,
            max_output_tokens: e.max_output_tokens,
        })
        .collect()
}

/// One account's ListAvailableModels, refreshing its token once if Kiro rejects it.
pub async fn fetch(
    http: &reqwest::Client,
    config: &KiroConfig,
    auth: &Auth,
) -> Result<ModelList, Error> {
    let token = auth.access_token().await?;
    match get(http, config, &token).await {
        Err(Rejected::Token(_)) => {
            let token = auth.force_refresh(&token).await?;
            get(http, config, &token)
                .await
                .map_err(Rejected::into_error)
        }
        other => other.map_err(Rejected::into_error),
    }
}

enum Rejected {
    /// 401, or 403 naming the bearer token: refresh and try once more.
    Token(Error),
    Other(Error),
}

impl Rejected {
    fn into_error(self) -> Error {
        match self {
            Rejected::Token(e) | Rejected::Other(e) => e,
        }
    }
}

async fn get(
    http: &reqwest::Client,
    config: &KiroConfig,
    token: &Token,
) -> Result<ModelList, Rejected> {
    // The ARN only picks the API region; the call itself must not carry a real one (§9.2).
    let base = config.api_url_for(token.profile_arn.as_deref());
    let agent = format!(
        "aws-sdk-js/1.0.0 ua/2.1 api/codewhispererruntime#1.0.0 m/E KiroIDE-{}-{}",
        crate::client::KIRO_VERSION,
        config.machine_id
    );
    let mut models = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut query = vec![("origin", "AI_EDITOR".to_string())];
        if let Some(t) = &next {
            query.push(("nextToken", t.clone()));
        }
        let request = http
            .get(format!("{base}/ListAvailableModels"))
            .query(&query)
            .header(AUTHORIZATION, format!("Bearer {}", token.access_token))
            .header(USER_AGENT, &agent)
            .header("amz-sdk-request", "attempt=1; max=1")
            .header("amz-sdk-invocation-id", uuid::Uuid::new_v4().to_string());
        let response = token
            .kind_headers(request)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                Rejected::Other(Error::new(
                    ErrorKind::Overloaded,
                    format!("could not reach Kiro for the model list: {e}"),
                ))
            })?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let message = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            let error = Error::new(
                ErrorKind::UpstreamProtocol,
                format!("Kiro refused ListAvailableModels (HTTP {status}: {message})"),
            );
            let bearer = message.to_ascii_lowercase().contains("bearer token");
            return Err(if status == 401 || (status == 403 && bearer) {
                Rejected::Token(error)
            } else {
                Rejected::Other(error)
            });
        }
        let page = parse(&body).map_err(|m| {
            Rejected::Other(Error::new(
                ErrorKind::UpstreamProtocol,
                format!("Kiro's model list is unusable: {m}"),
            ))
        })?;
        models.extend(page.models);
        next = page.next_token;
        if next.is_none() {
            break;
        }
    }
    if models.is_empty() {
        return Err(Rejected::Other(Error::new(
            ErrorKind::UpstreamProtocol,
            "Kiro's model list is empty",
        )));
    }
    Ok(ModelList { models, live: true })
}

/// One page of a ListAvailableModels answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub models: Vec<KiroModel>,
    pub default_model: Option<String>,
    pub next_token: Option<String>,
}

/// A ListAvailableModels answer without its `models` array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no `models` array")]
pub struct NoModels;

/// Parses a ListAvailableModels answer, tolerantly: an entry without `modelId` is skipped,
/// missing limits take the defaults, a schema sent as a JSON string is parsed.
pub fn parse(body: &Value) -> Result<Page, NoModels> {
    let list = body
        .get("models")
        .and_then(Value::as_array)
        .ok_or(NoModels)?;
    let limit = |m: &Value, key: &str| {
        m.get("tokenLimits")
            .and_then(|t| t.get(key))
            .and_then(Value::as_u64)
            .filter(|n| *n > 0)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let models = list
        .iter()
        .filter_map(|m| {
            let model_id = text(m.get("modelId"))?.trim().to_string();
            if model_id.is_empty() {
                return None;
            }
            let schema = match m.get("additionalModelRequestFieldsSchema") {
                Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
                Some(Value::Null) | None => None,
                Some(v) => Some(v.clone()),
            }
            .filter(Value::is_object);
            Some(KiroModel {
                max_input_tokens: limit(m, "maxInputTokens").unwrap_or(DEFAULT_CONTEXT_WINDOW),
                max_output_tokens: limit(m, "maxOutputTokens").unwrap_or(
                    if model_id.starts_with("claude-") {
                        64_000
                    } else {
                        32_000
                    },
                ),
                model_name: text(m.get("modelName")).or_else(|| text(m.get("displayName"))),
                request_fields_schema: schema,
                supported_input_types: m
                    .get("supportedInputTypes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                model_id,
            })
        })
        .collect();
    Ok(Page {
        models,
        default_model: text(body.pointer("/defaultModel/modelId")),
        next_token: text(body.get("nextToken")).filter(|t| !t.is_empty()),
    })
}

#[cfg(test)]
mod tests;
