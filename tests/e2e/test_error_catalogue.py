"""The late-2026 Kiro error catalogue (spec §9.6) as a real client sees it: the `anthropic` SDK
against the real binaries, one row per error, each on a gateway of its own with one fresh
account. Per row: the HTTP status and error type the SDK gets (and a fragment of the message),
how many chat calls reached the simulator (its log), and the account's state afterwards
(`/health`, as `conduit status` shows it). The failover half (a second account takes over) is
the kiro crate's `tests/error_catalogue.rs`.
"""

from __future__ import annotations

import anthropic
import httpx
import pytest

SUSPICIOUS = ("Due to suspicious activity, we are imposing temporary limits on how frequently your account "
              "(d-9067c8a2f1) can send a request to Kiro while we investigate.")
SUSPENDED = ("Your User ID (d-9067c8a2f1) temporarily is suspended. We've locked your account as a security "
             "precaution. To restore access, please contact our support team to verify your identity: "
             "https://aws.amazon.com/contact-us/")
SCHEMA = "input_schema does not support oneOf, allOf, or anyOf at the top level"


def err(status: int, message: str | None, reason: str | None = None, **extra) -> dict:
    body = None if message is None else {"message": message, "reason": reason}
    return {"status": status, "body": body, **extra}


# With a single account the pool remembers risk-control cooldowns and suspensions, but not a
# used-up quota (the two quota rows stay `active`; with several accounts they are `quota`, see the
# kiro crate's table). A suspension reaches the client as 403 permission_error: conduit's Kiro
# credentials are refused, not the client's key.
ROWS = [
    # (id, upstream error, client status, client error type, message fragment, chat calls, state after)
    ("risk-control-429", err(429, SUSPICIOUS), 429, "rate_limit_error", "suspicious activity", 1, "cooling_down"),
    ("suspension-403", err(403, SUSPENDED), 403, "permission_error", "suspended", 1, "suspended"),
    ("overage-402", err(402, "You have reached the limit for overages.", "OVERAGE_REQUEST_LIMIT_EXCEEDED"),
     429, "rate_limit_error", "overage", 1, "active"),
    ("monthly-quota-402", err(402, "You have reached the limit.", "MONTHLY_REQUEST_COUNT"),
     429, "rate_limit_error", "quota", 1, "active"),
    ("tool-schema-invalid", err(400, SCHEMA, "TOOL_SCHEMA_INVALID"), 400, "invalid_request_error", "oneOf", 1,
     "active"),
    ("tool-result-mismatch-503", err(503, "Expected toolResult blocks at messages.2.content for the following Ids: "
                                          "tooluse_simMismatch000000000", "TOOL_USE_RESULT_MISMATCH",
                                     error_type="ServiceUnavailableException"),
     400, "invalid_request_error", "tool", 1, "active"),
    ("model-temporarily-unavailable", err(500, "Encountered unexpectedly high load when processing the request, "
                                               "please try again.", "MODEL_TEMPORARILY_UNAVAILABLE"),
     529, "overloaded_error", "", 3, "active"),
    ("gateway-timeout-524", err(524, None, error_type=""), 504, "timeout_error", "524", 1, "active"),
    ("thinking-signature", err(400, "Invalid `signature` in `thinking` block", "THINKING_SIGNATURE_INVALID"),
     400, "invalid_request_error", "signature", 1, "active"),
    ("input-too-long", err(400, "Input is too long.", "CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
     400, "invalid_request_error", "prompt is too long", 1, "active"),
]


@pytest.mark.parametrize("upstream, status, etype, fragment, calls, state",
                         [pytest.param(*r[1:], id=r[0]) for r in ROWS])
def test_error_row(sim, start_gateway, upstream, status, etype, fragment, calls, state):
    gw = start_gateway()
    sim.rule(http_error=upstream, match={"contains": "catalogue row"})

    with pytest.raises(anthropic.APIStatusError) as raised:
        gw.anthropic().messages.create(model="claude-sonnet-4-6", max_tokens=256,
                                       messages=[{"role": "user", "content": "catalogue row"}])

    seen = raised.value
    body = seen.body if isinstance(seen.body, dict) else {}
    assert (seen.status_code, body.get("error", {}).get("type")) == (status, etype), body
    assert fragment.lower() in body["error"]["message"].lower(), body
    assert len(sim.chat_requests()) == calls, [(r["status"], r.get("rule")) for r in sim.chat_requests()]
    health = httpx.get(gw.url + "/health", timeout=5).json()
    assert health["upstream"].get("state") == state, health
