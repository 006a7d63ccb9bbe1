"""The command-line sign-in end to end with the token script the gateway serves
(`GET /auth/setup/token-script`), run by `sh` with BROWSER set to headless Chromium
(tests/e2e/node/cli_browser.mjs: the IdP chooser, the real IdP's login and consent, "Connect" on
the gateway's confirm page): stdout is exactly the session token, the token works with the
anthropic SDK, and a second run prints the cached token without a browser. Login CSRF: another
browser cannot complete a pending session (tests/e2e/node/cli_csrf.mjs, two browser contexts).
And at DEBUG_MODE=all, no secret of these sign-ins (IdP tokens, state, nonce, code, cookies,
verifier, CLI token) reaches the gateway's logs.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from claude_gateway import hidden
from idp_harness import CHROMIUM, NODE_DIR, run_node, start_sso, stop_sso
from team_harness import MODEL, secrets_in

SESSION_RE = re.compile(r"^cst_[0-9a-f]{64}$")


def write_exe(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def run_script(script: Path, home: Path, browser: Path, idp_name: str, login: str,
               timeout: float = 150) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "BROWSER": str(browser),
        "CHROMIUM": CHROMIUM,
        "E2E_IDP_NAME": idp_name,
        "E2E_LOGIN": login,
    }
    return subprocess.run(["sh", str(script)], env=env, cwd=home, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_token_script_signs_in_through_the_browser_then_serves_the_cache(sim, sso):
    gw, idp = sso.gw, sso.admin_idp
    home = Path(tempfile.mkdtemp(prefix="cli-", dir=sso.workdir))
    r = gw.http.get("/auth/setup/token-script")
    assert r.status_code == 200, r.text
    assert r.text.startswith("#!/bin/sh") and gw.url in r.text
    script = home / "conduit-token.sh"
    script.write_text(r.text)

    opened = home / "browser-opened"
    browser_log = home / "browser.log"
    chromium = write_exe(home / "browser.sh", f"""#!/bin/sh
echo "$1" >> '{opened}'
exec node '{NODE_DIR / "cli_browser.mjs"}' "$1" >> '{browser_log}' 2>&1
""")
    login = f"cli-{uuid.uuid4().hex[:8]}"
    first = run_script(script, home, chromium, idp.name, login)
    browser_said = browser_log.read_text() if browser_log.exists() else "(no browser log)"
    assert first.returncode == 0, f"{first.stderr}\nbrowser: {browser_said}"
    token = first.stdout.removesuffix("\n")
    assert first.stdout == token + "\n" and SESSION_RE.match(token), repr(first.stdout)
    urls = opened.read_text().splitlines()
    assert len(urls) == 1 and urls[0].startswith(gw.url + "/auth/cli/login?challenge="), urls

    # The token is this person's session, and it works through the SDK.
    me = gw.call("GET", "/auth/me", token)
    assert me["subject"] == f"{login}@{idp.issuer}", me
    sim.rule({"text": "Signed in from the command line."}, match={"contains": "cli hello"})
    msg = gw.anthropic(token).messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "cli hello"}])
    assert "".join(b.text for b in msg.content if b.type == "text") == \
        "Signed in from the command line."

    # Cached with mode 0600; a second run prints it without opening a browser.
    cached = [p for p in (home / "cache" / "conduit").iterdir() if p.name.startswith("token-")
              and p.is_file() and not p.name.endswith((".fail", ".tmp"))]
    assert len(cached) == 1 and stat.S_IMODE(cached[0].stat().st_mode) == 0o600, cached
    refuse = write_exe(home / "no-browser.sh", f"#!/bin/sh\necho \"$1\" >> '{opened}'\nexit 1\n")
    second = run_script(script, home, refuse, idp.name, login, timeout=30)
    assert second.returncode == 0, second.stderr
    assert second.stdout == token + "\n"
    assert len(opened.read_text().splitlines()) == 1, "the second run opened a browser"


def poll(gw, challenge: str, verifier: str) -> dict:
    r = gw.http.get("/auth/cli/poll", params={"challenge": challenge},
                    headers={"x-conduit-cli-verifier": verifier})
    assert r.status_code == 200, r.text
    return r.json()


def test_completing_another_browsers_pending_session_is_refused(sso):
    gw, idp = sso.gw, sso.env_idp
    verifier = secrets.token_hex(32)
    challenge = hashlib.sha256(verifier.encode()).hexdigest()
    login = f"csrf-{uuid.uuid4().hex[:8]}"

    out = run_node("cli_csrf.mjs", gw.url, challenge, idp.name, login, timeout=120)

    # Browser B, with its own valid CSRF token and with A's: refused either way.
    for attempt in ("b_own_csrf", "b_a_csrf"):
        assert out[attempt]["status"] == 403, out[attempt]
    assert "another browser" in out["b_own_csrf"]["text"], out["b_own_csrf"]["text"]
    # A, the browser that started it, completes it.
    assert "Command line connected" in out["a_connect"], out["a_connect"]

    assert poll(gw, challenge, "0" * 64) == {"status": "not_found"}, "a wrong verifier"
    done = poll(gw, challenge, verifier)
    assert done["status"] == "complete" and SESSION_RE.match(done["token"]), done
    assert gw.call("GET", "/auth/me", done["token"])["subject"] == f"{login}@{idp.issuer}"
    # Read once: the next poll has no token (the spent session reads as gone or expired).
    again = poll(gw, challenge, verifier)
    assert again in ({"status": "not_found"}, {"status": "expired"}), again


def test_poll_is_pending_until_confirmed_and_unknown_challenges_are_not_found(sso):
    gw = sso.gw
    verifier = secrets.token_hex(32)
    challenge = hashlib.sha256(verifier.encode()).hexdigest()
    assert poll(gw, challenge, verifier) == {"status": "not_found"}
    with httpx.Client(base_url=gw.url, timeout=10) as browser:
        r = browser.get("/auth/cli/login", params={"challenge": challenge})
        assert r.status_code in (200, 302), r.text
    assert poll(gw, challenge, verifier) == {"status": "pending"}


def test_no_sign_in_secret_in_the_logs_at_debug_mode_all(sim, workdir):
    """Portal SSO and the command-line sign-in driven over HTTP (so the test sees every
    secret), on a gateway at DEBUG_MODE=all: none of them is in any log."""
    sim.rule({"text": "logged"})
    s = start_sso(sim, workdir, env={"DEBUG_MODE": "all"})
    try:
        gw, idp = s.gw, s.env_idp
        found: dict[str, str] = {}
        bearer = idp.password_login_code_flow(f"logs-{uuid.uuid4().hex[:6]}")["access_token"]
        found["IdP access token"] = bearer
        with gw.anthropic(None, auth_token=bearer).messages.stream(
                model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]) as st:
            st.get_final_message()
        refused = idp.mint(idp.claims("logs-refused", aud="api://elsewhere"))
        found["refused IdP token"] = refused
        assert gw.post_messages(refused, body={}).status_code == 401

        with httpx.Client(base_url=gw.url, timeout=15) as browser:
            assert browser.get("/portal").status_code == 200
            found["flow cookie"] = browser.cookies["conduit_flow"]
            r = browser.get("/portal/sso/env")
            assert r.status_code in (302, 303), r.text
            q = parse_qs(urlsplit(r.headers["location"]).query)
            found.update(state=q["state"][0], nonce=q["nonce"][0])
            back = idp.sign_in(browser, r.headers["location"], f"logs-{uuid.uuid4().hex[:6]}")
            found["authorization code"] = parse_qs(urlsplit(back).query)["code"][0]
            r = browser.get(back)
            assert r.status_code == 303 and r.headers["location"] == "/portal", r.text
            found["portal session cookie"] = browser.cookies["conduit_session"]

            verifier = secrets.token_hex(32)
            challenge = hashlib.sha256(verifier.encode()).hexdigest()
            found["CLI verifier"] = verifier
            page = browser.get("/auth/cli/login", params={"challenge": challenge})
            assert page.status_code == 200 and "Connect" in page.text, page.text
            fields = {name: hidden(page.text, name) for name in ("session", "csrf")}
            r = browser.post("/auth/cli/complete", data=fields)
            assert r.status_code == 200, r.text
        done = poll(gw, challenge, verifier)
        assert done["status"] == "complete", done
        found["CLI token"] = done["token"]
        gw.anthropic(done["token"]).messages.create(
            model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])

        logs = [p for p in gw.files() if "log" in p.name and p.is_file()]
        assert logs
        assert "max_tokens" in "".join(p.read_text(errors="replace") for p in logs), \
            "DEBUG_MODE=all logs request bodies"
        assert secrets_in(logs, found) == [], "secrets in the gateway's logs"
    finally:
        stop_sso(s)
