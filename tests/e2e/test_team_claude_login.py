"""The real Claude Code (2.1.328) signs in to a team gateway with its own gateway sign-in and
has a prompt answered through it.

Managed settings `{"forceLoginMethod":"gateway","forceLoginGatewayUrl":<gateway>}` are machine
settings, read from /etc/claude-code/managed-settings.json; they are written only inside a
private mount namespace (claude_gateway.PrivateEtc: /etc overlaid, the test's directory bound
over /etc/claude-code) in which the tmux server running `claude` lives. The machine's own /etc
never has a /etc/claude-code, before, during or after.

Driven in tmux as a person would (observed screens of 2.1.328): the folder-trust question
("Yes, I trust this folder": Down, Enter), the input box, `/login`, "Cloud gateway ... Enter to
connect", "Trust gateway 127.0.0.1?" whose default is "No, go back" (Up, Enter), then the code
and the verification URL on screen. Headless Chromium (node/device_approve.mjs) opens that URL,
types the code, signs in at the IdP (oidc-provider) and presses Approve; Claude Code's next
poll gets the tokens ("Connected to Cloud gateway"). Then a question, answered by the
simulator through the gateway, on screen; the access log names the sign-in (`tok:<family>`)
and the person; the model is the one the gateway's managed settings name ("Using Sonnet 4.6
(from managed settings)"); the credential Claude Code saved is the gateway's own token.
With 320 s access tokens, a second question ~25 s later makes Claude Code refresh first: a
rotated pair in the same sign-in, the spent refresh token refused. Last, `/logout`: Claude
Code revokes at the gateway, and the refresh token it held is dead.

A second story: the user deactivated by an admin mid-session; the next question stops at once
with the gateway's 401 ("Please run /login", no retries) and nothing reaches the upstream.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from claude_gateway import NsTmux, PrivateEtc, oauth_error, refresh, verify_access_token
from idp_harness import Idp, start_node
from team_harness import MODEL, TeamGateway, start_team_gateway, wait_until
from test_claude_code import CLAUDE

QUESTION = "What is the capital of Kiroland?"
ANSWER = "The capital of Kiroland is Conduitville."
SECOND_ANSWER = "Second answer, from Refreshville."
# Claude Code renews its token this long before it ends (observed with 2.1.328: a 320 s token is
# renewed by a request made 25 s after it was issued, not by one made at once).
REFRESH_MARGIN = 300
ACCESS_TTL = REFRESH_MARGIN + 20
CODE_ON_SCREEN = re.compile(r"Code:\s+([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})")
# What must never show: Claude Code refusing the gateway or its answers.
REFUSALS = ("Contact your IT administrator", "sign-in was not completed", "API Error",
            "Invalid API key", "Login failed")


@dataclass
class Machine:
    """A gateway with a real IdP and its managed policy, and a developer machine: Claude Code's
    managed settings naming the gateway (inside the namespace only), a fresh HOME, a project."""

    gw: TeamGateway
    idp: Idp
    etc: PrivateEtc
    home: Path
    project: Path
    login: str
    tmux: NsTmux | None = None

    def saved(self) -> dict:
        """The sign-in Claude Code saved."""
        creds = json.loads((self.home / ".claude" / ".credentials.json").read_text())
        return creds["enterpriseGateway"]

    def start_claude(self) -> NsTmux:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
               "TERM": "xterm-256color", "LANG": "C.UTF-8", "DISABLE_AUTOUPDATER": "1",
               "DISABLE_ERROR_REPORTING": "1"}
        self.tmux = NsTmux(self.etc, self.project, env, [str(CLAUDE)])
        return self.tmux


@pytest.fixture
def machine(sim, workdir, tmp_path):
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} missing: run scripts/setup-e2e.sh")
    for tool in ("tmux", "unshare", "chromium"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: run scripts/setup-e2e.sh")
    assert not Path("/etc/claude-code").exists(), "this machine has its own /etc/claude-code"
    tag = uuid.uuid4().hex[:6]
    idp = Idp(workdir, f"corp-{tag}", audience=f"api://conduit-{tag}", client_id=f"conduit-{tag}",
              domain="corp.example").start()
    # Short access tokens, so that Claude Code refreshes within a test.
    gw = start_team_gateway(sim, workdir, "sqlite",
                            env={**idp.gateway_env(), "ACCESS_TOKEN_TTL_SECONDS": str(ACCESS_TTL)})
    # The gateway's managed settings pick the model (Claude Code's own default is an Opus).
    gw.call("PUT", "/admin/managed-settings", gw.admin, json={"model": MODEL})
    etc = PrivateEtc(tmp_path / "etc")
    etc.write({"forceLoginMethod": "gateway", "forceLoginGatewayUrl": gw.url})
    home = tmp_path / "home"
    home.mkdir()
    # Past the first-run screens (theme), so the sign-in starts from /login as a user's would.
    (home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True, "theme": "dark"}))
    project = tmp_path / "project"
    project.mkdir()
    m = Machine(gw, idp, etc, home, project, f"dev-{tag}")
    try:
        yield m
    finally:
        if m.tmux:
            m.tmux.kill()
        gw.stop()
        idp.stop()
    assert not Path("/etc/claude-code").exists(), "the machine's /etc was changed"


def sign_in_and_ask(m: Machine, sim) -> list[str]:
    """Start `claude`, `/login` through the device flow (approved in Chromium as `m.login`),
    ask QUESTION; the screens seen until ANSWER showed."""
    sim.rule({"text": ANSWER}, match={"contains": "capital of Kiroland"})
    tmux = m.start_claude()
    browser: subprocess.Popen | None = None
    done = {"login": False, "trusted": False, "approved": False, "connected": False, "asked": False}

    def react(screen: str) -> None:
        nonlocal browser
        if browser is not None and browser.poll() is not None and not done["approved"]:
            out, err = browser.communicate()
            assert browser.returncode == 0 and "APPROVED" in out, \
                f"approving in Chromium failed:\n{err}"
            done["approved"] = True
        code = CODE_ON_SCREEN.search(screen)
        if "Yes, I trust this folder" in screen:
            tmux.keys("Down", "Enter")
        elif "Trust gateway" in screen and not done["trusted"]:
            assert "No, go back" in screen
            tmux.keys("Up", "Enter")
            done["trusted"] = True
        elif "Enter to connect" in screen:
            tmux.keys("Enter")
        elif code and browser is None:
            urls = re.findall(r"(http://127\.0\.0\.1:\d+/device\S*)", screen)
            assert urls and urls[0].startswith(m.gw.url + "/device"), screen
            # Headless Chromium opens the URL, types the code, signs in at the IdP, approves.
            browser = start_node("device_approve.mjs", urls[0], code.group(1),
                                 env={"E2E_LOGIN": m.login})
        elif "Connected to Cloud gateway" in screen:
            done["connected"] = True
            tmux.keys("Enter")
        elif "shift+tab to cycle" in screen or "? for shortcuts" in screen:
            if not done["login"]:
                tmux.type("/login")
                tmux.keys("Enter")
                done["login"] = True
            elif done["connected"] and not done["asked"]:
                tmux.type(QUESTION)
                tmux.keys("Enter")
                done["asked"] = True
        elif "Press Enter to continue" in screen:
            tmux.keys("Enter")

    try:
        screens = tmux.drive(ANSWER, REFUSALS, react, 180, state=done)
    finally:
        if browser is not None and browser.poll() is None:
            browser.kill()
    assert done["approved"] and done["connected"] and done["asked"], done
    return screens


def test_claude_code_signs_in_through_the_device_flow_and_gets_an_answer(machine, sim):
    m, gw = machine, machine.gw
    screens = sign_in_and_ask(m, sim)
    tmux = m.tmux

    # Claude Code keeps the gateway's own token; it names the person who approved.
    saved = m.saved()
    assert saved["url"] == gw.url and saved["idpRefreshToken"]
    _, claims = verify_access_token(gw.url, saved["jwt"])
    user = next(u for u in gw.list_users() if u["id"] == claims["sub"])
    assert m.login in user["subject"]
    # The question went upstream with the gateway's key, the sign-in on the access line.
    asked = [c for c in sim.log() if "capital of Kiroland" in json.dumps(c.get("body"))]
    assert asked and all(saved["jwt"] not in json.dumps(c) for c in asked)
    # It fetched /managed/settings with the token and applied them.
    # (Besides the main request, a small Haiku one asks about the same prompt.)
    models = {c["body"]["model"] for c in asked}
    assert MODEL in models and not any("opus" in name for name in models), models
    assert any("(from managed settings)" in sc for sc in screens), screens[-1]
    line = gw.access_line(f"tok:{claims['fid']}")
    assert line and m.login in line, f"no access line for the sign-in: {line!r}"

    # Claude Code refreshes before a request once the token is within REFRESH_MARGIN of
    # its end: wait for that, ask again; the answer comes on a rotated pair, same sign-in.
    time.sleep(max(0.0, saved["expiresAt"] / 1000 - REFRESH_MARGIN + 8 - time.time()))
    sim.rule({"text": SECOND_ANSWER}, match={"contains": "second question"})
    tmux.type("Here is a second question for you")
    tmux.keys("Enter")
    tmux.wait_for(SECOND_ANSWER, 60)
    renewed = m.saved()
    assert renewed["idpRefreshToken"] != saved["idpRefreshToken"], "Claude Code did not refresh"
    _, renewed_claims = verify_access_token(gw.url, renewed["jwt"])
    assert (renewed_claims["sub"], renewed_claims["fid"]) == (claims["sub"], claims["fid"])
    assert renewed_claims["jti"] != claims["jti"]
    # The spent refresh token (what a second terminal would still hold) is refused alone.
    assert oauth_error(refresh(gw.url, saved["idpRefreshToken"])) == "invalid_grant"

    # /logout revokes at the gateway (RFC 7009) and forgets the credential.
    tmux.type("/logout")
    tmux.keys("Enter")
    tmux.wait_for("Successfully logged out")
    assert oauth_error(refresh(gw.url, renewed["idpRefreshToken"])) == "invalid_grant"
    assert wait_until(lambda: gw.request("GET", "/managed/settings", renewed["jwt"]).status_code
                      == 401, timeout=5, what="the signed-out access token refused")
    creds = m.home / ".claude" / ".credentials.json"
    assert not creds.exists() or "enterpriseGateway" not in json.loads(creds.read_text())


def test_a_deactivated_user_is_stopped_at_once_and_asked_to_sign_in_again(machine, sim):
    m, gw = machine, machine.gw
    sign_in_and_ask(m, sim)
    _, claims = verify_access_token(gw.url, m.saved()["jwt"])
    gw.set_active(claims["sub"], False)
    before = len(sim.log())
    m.tmux.type("Here is a question after deactivation")
    m.tmux.keys("Enter")
    # 401 with x-should-retry: false: no retries, the gateway's reason and /login at once.
    screen = m.tmux.wait_for("Please run /login", 20)
    assert "401" in screen and "deactivated" in screen, screen
    assert len(sim.log()) == before, "a deactivated user's request reached the upstream"
    assert oauth_error(refresh(gw.url, m.saved()["idpRefreshToken"])) == "invalid_grant"
