//! What the router tells about its upstreams: token counts (exact where a Messages lane
//! counts), the union of their models, and their status with the router's cooldowns applied.

use conduit_core::{ModelInfo, Request, UpstreamState, UpstreamStatus};

use super::{ModelRouter, RawMessages};

impl ModelRouter {
    /// Input tokens of the request: exact from the first candidate that resolves the model,
    /// if it has a Messages lane and the raw body is given; else that candidate's own count;
    /// the gateway's estimate when none resolves. Never fails.
    pub async fn count_tokens(&self, request: &Request, raw: Option<RawMessages>) -> u32 {
        for i in self.order(&request.model) {
            let up = &self.upstreams[i];
            let Some(model) = up.resolve(&request.model).await else {
                continue;
            };
            if let (Some(lane), Some(raw)) = (up.messages(), raw.as_ref()) {
                let counted = match raw.call(model) {
                    Ok(call) => lane.count_messages_tokens(call).await,
                    Err(e) => Err(e),
                };
                match counted {
                    Ok(n) => return n,
                    Err(e) => tracing::warn!(
                        upstream = up.id(),
                        error = %e,
                        "exact token count failed; using the estimate"
                    ),
                }
            }
            return up.count_tokens(request);
        }
        conduit_core::tokens::count_request(request)
    }

    /// The union of every upstream's models; on duplicate ids the first upstream's entry wins.
    pub async fn list_models(&self) -> Vec<ModelInfo> {
        let lists = futures::future::join_all(self.upstreams.iter().map(|u| u.list_models())).await;
        let mut out: Vec<ModelInfo> = Vec::new();
        for model in lists.into_iter().flatten() {
            if !out.iter().any(|m| m.id == model.id) {
                out.push(model);
            }
        }
        out
    }

    /// Each upstream's own status, with the router's cooldown applied (a ready upstream that
    /// is cooling down shows `CoolingDown`, why, and until when).
    pub fn status(&self) -> Vec<UpstreamStatus> {
        let now = self.clock.now();
        let sched = self.sched();
        self.upstreams
            .iter()
            .enumerate()
            .map(|(i, up)| {
                let mut status = up.status();
                if let Some(until) = sched.cooling_until(i, now) {
                    status.cooldown_until = Some(until.unix_timestamp().max(0) as u64);
                    if status.state == UpstreamState::Ready {
                        status.state = UpstreamState::CoolingDown;
                        status.reason = sched.state(i, now).1;
                    }
                }
                status
            })
            .collect()
    }
}
