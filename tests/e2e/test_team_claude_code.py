"""The real Claude Code through a team gateway's virtual key: a tool round trip on the
simulator's Anthropic API face, then the key revoked: the next run ends at once with the
gateway's refusal, and nothing more reaches the upstream.
"""

from __future__ import annotations

from types import SimpleNamespace

from team_harness import start_team_gateway  # noqa: F401
from test_claude_code import run_claude, write_round_trip


def anthropic_calls(sim) -> list[dict]:
    return [c for c in sim.log() if c.get("path", "").startswith("/anthropic/v1/messages")]


def test_claude_code_works_through_a_virtual_key_and_stops_when_it_is_revoked(sim, workdir, tmp_path):
    gw = start_team_gateway(sim, workdir, "sqlite")
    try:
        user = gw.create_user("cc-dev", "member")
        key = gw.create_key("cc-laptop", user_id=user["id"])
        client = SimpleNamespace(url=gw.url, key=key["key"])
        cwd = write_round_trip(sim, client, tmp_path, "hello from the team")

        rules = [c.get("rule") for c in anthropic_calls(sim)]
        assert rules.count("write") == 1 and rules.count("answer") == 1, rules
        # The upstream saw the gateway's own upstream key, never the virtual key.
        assert all(key["key"] not in str(c) for c in anthropic_calls(sim))
        line = gw.access_line(key["id"])
        assert line and "cc-dev" in line, "the access line should name the key id and the user"
        assert all(key["key"] not in p.read_text(errors="replace") for p in gw.files() if "log" in p.name)

        gw.revoke_key(key["id"])
        before = len(anthropic_calls(sim))
        refused = run_claude(client, cwd, "Say hello", timeout=60)

        assert refused.returncode != 0, refused.stdout
        said = (refused.stdout + refused.stderr).lower()
        # Claude Code 2.1.328 prints: "Failed to authenticate. API Error: 401 invalid API key: …"
        assert "401" in said and "not valid for this gateway" in said, said
        assert len(anthropic_calls(sim)) == before
    finally:
        gw.stop()
