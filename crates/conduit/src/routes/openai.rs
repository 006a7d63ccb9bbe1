//! OpenAI handlers: Chat Completions and Responses; decode, then the shared phases in
//! [`super::turn`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use conduit_core::Error;
use conduit_openai::chat::ChatSseEncoder;
use conduit_openai::responses::{self, Context, ResponseStore, ResponsesSseEncoder};

use super::turn::{self, Turn};
use crate::logging::RequestRecord;
use crate::state::{OpenAiState, RelaySettings, Upstreams};
use crate::team::spend::meter::Meter;
use crate::team::Principal;

struct Chat {
    include_usage: bool,
}

impl Turn for Chat {
    type Sse = ChatSseEncoder;
    fn error(&self, error: &Error) -> Response {
        error_response(error)
    }
    fn body(&self, response: &conduit_core::Response) -> Vec<u8> {
        conduit_openai::chat::response_body(response)
    }
    fn into_sse(self) -> ChatSseEncoder {
        ChatSseEncoder::new(self.include_usage)
    }
}

struct Responses {
    context: Context,
    store: Arc<ResponseStore>,
}

impl Turn for Responses {
    type Sse = ResponsesSseEncoder;
    fn error(&self, error: &Error) -> Response {
        error_response(error)
    }
    fn body(&self, response: &conduit_core::Response) -> Vec<u8> {
        responses::response_body(response, &self.context, &self.store)
    }
    fn into_sse(self) -> ResponsesSseEncoder {
        ResponsesSseEncoder::new(self.context, self.store)
    }
}

pub async fn chat_completions(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    caller: Option<Extension<Principal>>,
    meter: Option<Extension<Meter>>,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/chat/completions", relay.debug_mode);
    record.set_caller(caller.as_deref());
    record.set_meter(meter.as_deref());
    record.keep_body(&body);
    match conduit_openai::chat::decode_request(&body) {
        Ok(request) => {
            let include_usage = conduit_openai::chat::include_usage(&body);
            turn::run(&upstreams, relay, record, request, Chat { include_usage }).await
        }
        Err(e) => turn::failed(record, &e, error_response(&e)),
    }
}

pub async fn responses(
    State(upstreams): State<Upstreams>,
    State(relay): State<RelaySettings>,
    State(openai): State<OpenAiState>,
    caller: Option<Extension<Principal>>,
    meter: Option<Extension<Meter>>,
    body: Bytes,
) -> Response {
    let mut record = RequestRecord::start("POST", "/v1/responses", relay.debug_mode);
    record.set_caller(caller.as_deref());
    record.set_meter(meter.as_deref());
    record.keep_body(&body);
    match responses::decode_request(&body, &openai.store) {
        Ok((request, context)) => {
            let turn = Responses {
                context,
                store: openai.store.clone(),
            };
            turn::run(&upstreams, relay, record, request, turn).await
        }
        Err(e) => turn::failed(record, &e, error_response(&e)),
    }
}

/// An error in OpenAI's JSON shape with its status code.
pub fn error_response(error: &Error) -> Response {
    turn::error_with(error, conduit_openai::error_body)
}
