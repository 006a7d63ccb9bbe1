//! An upstream under the name the config file gives it (`[[upstreams]] name = "kiro-team"`),
//! for upstreams whose own id is fixed (Kiro's is `kiro`). Everything else is delegated.

use std::sync::Arc;

use conduit_core::{
    Call, MessagesUpstream, ModelInfo, ModelsFuture, Request, ResolveFuture, SendFuture, Upstream,
    UpstreamKind, UpstreamStatus,
};

pub struct Named {
    name: String,
    inner: Arc<dyn Upstream>,
}

impl Named {
    /// `inner` itself when it already has that name.
    pub fn wrap(name: &str, inner: Arc<dyn Upstream>) -> Arc<dyn Upstream> {
        if inner.id() == name {
            return inner;
        }
        Arc::new(Self {
            name: name.to_owned(),
            inner,
        })
    }
}

impl Upstream for Named {
    fn id(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> UpstreamKind {
        self.inner.kind()
    }
    fn resolve<'a>(&'a self, model: &'a str) -> ResolveFuture<'a> {
        self.inner.resolve(model)
    }
    fn send(&self, call: Call) -> SendFuture<'_> {
        self.inner.send(call)
    }
    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }
    fn list_models(&self) -> ModelsFuture<'_> {
        self.inner.list_models()
    }
    fn context_window(&self, model: &str) -> u32 {
        self.inner.context_window(model)
    }
    fn count_tokens(&self, request: &Request) -> u32 {
        self.inner.count_tokens(request)
    }
    fn status(&self) -> UpstreamStatus {
        UpstreamStatus {
            id: self.name.clone(),
            ..self.inner.status()
        }
    }
    fn messages(&self) -> Option<&dyn MessagesUpstream> {
        self.inner.messages()
    }
}
