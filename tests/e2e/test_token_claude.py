"""The real Claude Code (2.1.328) on a team gateway through `conduit token` as its apiKeyHelper:
the settings come from `conduit configure-claude --gateway URL --profile P` (a temp HOME), the
person signed in once with `conduit token login` (headless Chromium at the IdP and the gateway's
consent page), tokens in the real Secret Service (conftest's `keyring`).

- `claude -p` → apiKeyHelper → `conduit token` → team gateway → simulator → the answer. With
  ACCESS_TOKEN_TTL_SECONDS=60 (the minimum), once the access token is within the helper's margin
  (min(300 s, lifetime/10) = 6 s) the next `claude -p` gets a fresh token silently: one refresh
  rotation at the gateway, no browser. `claude -p` runs in a tmux pane, so the helper has a
  terminal and would open the browser if it could not refresh.
- A 401 from the gateway makes Claude Code run the helper again. Observed in 2.1.328's code:
  it reads `exp` of a JWT the helper printed and runs the helper again shortly before it (so an
  expired token never reaches the gateway), and on a 401 from the gateway with an apiKeyHelper
  it clears the helper's cached answer and retries even though the gateway says
  `x-should-retry: false`. So the 401 must come from a token that is revoked, not expired: an
  interactive `claude` (tmux) answers a first prompt, and a second one without running the
  helper (watched on the keyring's D-Bus: no `conduit token` touches the keychain); the person
  signs in again with `conduit token login` (which revokes the previous sign-in at the gateway
  and stores a new one); the third prompt goes out with the cached, now revoked token → 401
  (the gateway logs no refusals; the refusal is checked directly) → Claude Code runs the helper
  (a keychain read on the bus), which prints the new token → the retry is answered on screen,
  its access line naming the new sign-in.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from claude_gateway import verify_access_token
from team_harness import wait_until
from test_claude_code import CLAUDE
from conftest import CONDUIT_BIN, Tmux
from token_harness import (BusWatch, Dev, TokenWorld, assert_nothing_leaked, logged_in,
                           rotations, secrets_of, start_token_world, stop_token_world)

REFUSALS = ("API Error", "Invalid API key", "apiKeyHelper failed", "Not logged in",
            "Select login method", "Detected a custom API key", "Please run /login")
# Keep Claude Code off the internet (as test_claude_code.run_claude does).
QUIET = {"DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
         "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


@pytest.fixture(scope="module")
def short_world(sim, workdir, keyring):
    """An IdP and a team gateway whose access tokens live 60 s."""
    w = start_token_world(sim, workdir, keyring, ACCESS_TOKEN_TTL_SECONDS="60")
    yield w
    stop_token_world(w)


def configure(dev: Dev, gw_url: str, profile: str) -> dict:
    """`conduit configure-claude --gateway URL --profile P` on the dev's HOME, over settings a
    person had (a key and Bedrock, which would bypass the helper or the gateway, and a setting
    of their own), with a token in the shell; the settings it wrote."""
    settings_path = dev.home / ".claude" / "settings.json"
    settings_path.parent.mkdir(exist_ok=True)
    before = {"includeCoAuthoredBy": False,
              "env": {"ANTHROPIC_API_KEY": "sk-ant-old-key", "CLAUDE_CODE_USE_BEDROCK": "1",
                      "E2E_KEEP_ME": "yes"}}
    settings_path.write_text(json.dumps(before))
    done = dev.token("configure-claude", "--gateway", gw_url, "--profile", profile,
                     env=dev.env(ANTHROPIC_AUTH_TOKEN="sk-in-the-shell"))
    assert done.code == 0, str(done)
    # The token in the environment wins over the helper: a warning names it.
    assert "ANTHROPIC_AUTH_TOKEN" in done.stderr, str(done)
    settings = json.loads(settings_path.read_text())
    helper = settings.get("apiKeyHelper", "")
    # conduit is not on PATH here: the helper is this binary's absolute path.
    assert helper == f"{CONDUIT_BIN} token --profile {profile}", settings
    env = settings["env"]
    assert env["ANTHROPIC_BASE_URL"] == gw_url, settings
    assert not {"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK"} & set(env)
    assert env["E2E_KEEP_ME"] == "yes" and settings["includeCoAuthoredBy"] is False, settings
    backup = settings_path.with_name("settings.json.conduit.bak")
    assert json.loads(backup.read_text()) == before, "the one-time backup"
    # Past Claude Code's first-run screens (theme), as a person who used it before.
    (dev.home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True,
                                                       "theme": "dark"}))
    return settings


def claude_env(dev: Dev) -> dict[str, str]:
    """Claude Code's environment: the dev's (HOME, CONDUIT_HOME, the keyring's bus, BROWSER),
    no ANTHROPIC_*: everything else comes from the settings."""
    return dev.env(**QUIET)


def ask(dev: Dev, project: Path, prompt: str):
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    return dev.pane([str(CLAUDE), "-p", prompt], env=claude_env(dev), timeout=120, cwd=project)


def messages_calls(sim) -> list[dict]:
    return [c for c in sim.log() if c.get("path", "").startswith("/anthropic/v1/messages")]


def test_claude_code_through_the_helper_refreshes_silently_after_expiry(sim, short_world):
    world, gw = short_world, short_world.gw
    dev = world.dev()
    profile = f"cc-{uuid.uuid4().hex[:6]}"
    project = dev.root / "project"
    project.mkdir()
    sim.rule({"text": "First answer, via the helper."}, match={"contains": "first question"})
    sim.rule({"text": "Second answer, after a refresh."}, match={"contains": "second question"})

    first_token = logged_in(world, dev, profile)
    settings = configure(dev, gw.url, profile)
    # The helper's TTL from the profile: lifetime 60 s − min(300, 60/12) s.
    assert settings["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] == "55000", settings["env"]

    mark = gw.proc.size()
    first = ask(dev, project, "Here is the first question")
    assert first.code == 0 and "First answer, via the helper." in first.stdout, str(first)
    assert rotations(gw, mark) == [], "a fresh token was refreshed"
    # The upstream saw the gateway's own key, never the person's token.
    assert all(first_token not in json.dumps(c) for c in messages_calls(sim))

    # Until the access token is within the helper's 6 s margin (it lives 60 s).
    expires_at = dev.profile(profile)["expires_at"]
    time.sleep(max(0.0, expires_at - 6 - time.time() + 1))
    mark = gw.proc.size()
    second = ask(dev, project, "Here is the second question")
    assert second.code == 0 and "Second answer, after a refresh." in second.stdout, str(second)

    wait_until(lambda: rotations(gw, mark), timeout=5, what="a refresh rotation")
    assert len(rotations(gw, mark)) == 1, rotations(gw, mark)
    assert len(dev.browser.opened()) == 1, "the helper opened a browser instead of refreshing"
    new_token = world.keyring.secret(profile)["access_token"]
    assert new_token != first_token
    _, old_claims = verify_access_token(gw.url, first_token)
    _, new_claims = verify_access_token(gw.url, new_token)
    assert new_claims["fid"] == old_claims["fid"] and new_claims["exp"] > old_claims["exp"]
    assert_nothing_leaked([gw], {**secrets_of(world, dev, profile, new_token),
                                 "first token": first_token})


def test_a_401_from_the_gateway_makes_claude_code_run_the_helper_again(sim, token_world):
    world: TokenWorld = token_world
    gw = world.gw
    dev = world.dev()
    profile = f"cc-{uuid.uuid4().hex[:6]}"
    project = dev.root / "project"
    project.mkdir()
    answers = {n: f"Interactive answer {n}." for n in ("one", "two", "three")}
    for n, text in answers.items():
        sim.rule({"text": text}, match={"contains": f"interactive {n}"})

    t1 = logged_in(world, dev, profile)
    _, c1 = verify_access_token(gw.url, t1)
    configure(dev, gw.url, profile)
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    tmux = Tmux(project, {**claude_env(dev), "TERM": "xterm-256color"}, [str(CLAUDE)], join=True)
    watch: BusWatch | None = None
    try:
        asked = False

        def react(screen: str) -> None:
            nonlocal asked
            if asked:
                return
            if "Yes, I trust this folder" in screen:
                tmux.keys("Down", "Enter")
            elif "shift+tab to cycle" in screen or "? for shortcuts" in screen:
                tmux.type("Here is interactive one")
                tmux.keys("Enter")
                asked = True
            elif "Press Enter to continue" in screen:
                tmux.keys("Enter")

        tmux.drive(answers["one"], REFUSALS, react, 90)
        assert gw.access_line(f"tok:{c1['fid']}"), "the first prompt did not use the sign-in"

        # The control: another prompt is answered from Claude Code's cached helper answer; no
        # `conduit token` run touches the keychain.
        watch = BusWatch(world.keyring)
        prompt(tmux, "Here is interactive two", answers["two"])
        assert watch.senders() == set(), f"the helper ran without a 401: {watch.calls()}"
        watch.stop()

        # The person signs in again: the old sign-in is revoked at the gateway, a new one stored.
        again = dev.login(None, profile)
        assert again.code == 0, f"{again}\nbrowser: {dev.browser.log(2)}"
        t2 = world.keyring.secret(profile)["access_token"]
        _, c2 = verify_access_token(gw.url, t2)
        assert c2["fid"] != c1["fid"]
        refused = gw.post_messages(t1, body={})
        assert refused.status_code == 401 and refused.headers.get("x-should-retry") == "false"

        # Claude Code still holds the first token: the gateway answers 401 (not logged: refusals
        # never reach the access log), Claude Code runs the helper again — one more connection to
        # the keychain — and retries with the new sign-in.
        watch = BusWatch(world.keyring)
        prompt(tmux, "Here is interactive three", answers["three"])
        ran = watch.senders()
        assert len(ran) >= 1, "Claude Code did not run the helper after the 401"
    finally:
        if watch is not None:
            watch.stop()
        tmux.kill()

    assert gw.access_line(f"tok:{c2['fid']}"), "the retry did not use the new sign-in"
    assert len(dev.browser.opened()) == 2, "only the two logins opened a browser"
    assert_nothing_leaked([gw], {**secrets_of(world, dev, profile, t2), "first token": t1})


def prompt(tmux: Tmux, text: str, answer: str) -> None:
    tmux.type(text)
    tmux.keys("Enter")
    tmux.drive(answer, REFUSALS, lambda s: None, 60)
