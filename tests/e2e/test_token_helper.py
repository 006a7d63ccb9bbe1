"""`conduit token`, the credential helper (issue 13; docs/design-token.md is the contract), end
to end: real processes (the conduit binary, a team gateway, oidc-provider as the IdP, headless
Chromium as the person's browser, tmux for a real terminal) and a real keychain
(gnome-keyring-daemon's Secret Service on a private D-Bus session bus: conftest's `keyring`).

- Interactive PKCE: `conduit token login --gateway` in a terminal, the browser through the IdP's
  login and the gateway's consent page to the loopback callback; the helper's stdout is then
  exactly a token the gateway accepts. A bare `conduit token` with no stored tokens signs in the
  same way and prints the token on the terminal.
- The keychain: the tokens are in the Secret Service (`secret-tool` finds the entry) and in no
  file under HOME; `status` says Secret Service.
- Not interactive (no terminal; or `CI=true` even in a terminal): exit 1, one stderr line, empty
  stdout, no browser. Times are printed and written to `$CONDUIT_TOKEN_TIMINGS_OUT` (default
  /tmp/conduit-token-e2e-timings.json), never asserted: docs/benchmarks.md has the benchmark.
- 20 helpers at once on an expired access token (their wall clock moved past its end with
  libfaketime; the gateway's is not): one refresh at the gateway, the same new token everywhere.
- A cancelled browser sign-in leaves a failure marker: the next call opens no browser (until the
  cool-down has passed, which a faked clock shows).
- Two gateways, two profiles; logout revokes and forgets; direct-IdP mode (`--issuer
  --client-id`) prints the IdP's ID token, which the gateway's OIDC tier accepts, and refreshes
  it at the IdP past its end.
Every gateway runs at DEBUG_MODE=all, and no token, refresh token or authorization code appears
in what it wrote.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import time
import uuid
from pathlib import Path
from statistics import median
from urllib.parse import parse_qs, urlsplit

import jwt

from claude_gateway import oauth_error, refresh, verify_access_token
from team_harness import wait_until
from token_harness import (ANSWER, JWT_RE, Browser, BusWatch, answered, assert_nothing_leaked,
                           faketime_env, logged_in, one_line, rotations, secrets_of)

TIMINGS = Path(os.environ.get("CONDUIT_TOKEN_TIMINGS_OUT", "/tmp/conduit-token-e2e-timings.json"))
LOOPBACK = re.compile(r"^http://127\.0\.0\.1:\d+/callback$")


def profile_name() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


def record_timing(name: str, values_ms: list[float]) -> None:
    """Print a timing and add it to TIMINGS (reported, never asserted)."""
    summary = {"runs": len(values_ms), "min_ms": round(min(values_ms), 2),
               "p50_ms": round(median(values_ms), 2), "max_ms": round(max(values_ms), 2)}
    print(f"\n{name}: {summary}")
    try:
        data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    except ValueError:
        data = {}
    data[name] = summary
    TIMINGS.write_text(json.dumps(data, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# Interactive PKCE


def test_login_in_a_terminal_then_the_helper_prints_what_the_gateway_accepts(sim, token_world):
    world, gw = token_world, token_world.gw
    dev = world.dev()
    profile = profile_name()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})

    done = dev.login(gw.url, profile)
    assert done.code == 0, f"login failed: {done}\nbrowser: {dev.browser.log(1)}"
    # The stored token is taken at once, although this person's account was made by this very
    # sign-in (a gateway that knew the account only after its next cache sync, up to 1 s
    # later, refused it: a helper run right after login got a 401).
    stored = world.keyring.secret(profile)
    me = gw.request("GET", "/auth/me", stored["access_token"])
    assert me.status_code == 200, f"the first sign-in's token is refused: {me.status_code} {me.text}"
    assert dev.browser.login in me.text, me.text
    token = dev.token("token", "--profile", profile).token
    assert token == stored["access_token"]

    # The browser went to the gateway's /oauth/authorize: code + PKCE S256, a loopback redirect.
    [url] = dev.browser.opened()
    assert url.startswith(gw.url + "/oauth/authorize?"), url
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q["response_type"] == "code" and q["client_id"] == "conduit-cli", q
    assert q["code_challenge_method"] == "S256" and re.fullmatch(r"[A-Za-z0-9_-]{43}",
                                                                 q["code_challenge"]), q
    assert LOOPBACK.match(q["redirect_uri"]) and q.get("state"), q
    seen = dev.browser.result(1)
    assert seen["steps"][0] == "idp-login" and seen["steps"][-1] == "consent-connect", seen
    assert "Connect conduit on this computer to your account?" in seen["consent_page"], seen
    assert seen["callback_path"] == "/callback" and seen["error"] is None, seen
    assert {"code", "state"} <= set(seen["callback_params"]), seen
    assert seen["callback_params"]["state"] == q["state"], seen
    assert "Signed in" in seen["text"], seen

    # What the helper prints is what the gateway takes: the gateway's own EdDSA access token for
    # the person who signed in at the IdP, answered by the simulator.
    _, claims = verify_access_token(gw.url, token)
    assert answered(gw, token) == 200
    # A cache hit: the same token, no browser.
    again = dev.token("token", "--profile", profile)
    assert again.token == token and len(dev.browser.opened()) == 1

    # The profile: no secrets, 0600, the gateway and where the tokens are.
    path = dev.conduit_home / "tokens" / f"{profile}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    prof = dev.profile(profile)
    assert prof["mode"] == "gateway" and prof["gateway"] == gw.url, prof
    assert prof["client_id"] == "conduit-cli" and prof["store"] == "secret-service", prof
    assert abs(prof["expires_at"] - claims["exp"]) <= 5 and prof["lifetime_secs"] == 3600, prof
    assert stored["refresh_token"], "the keychain's entry"
    assert token not in path.read_text() and stored["refresh_token"] not in path.read_text()

    assert_nothing_leaked([gw], secrets_of(world, dev, profile, token))


def test_the_bare_helper_signs_in_when_nothing_is_stored_and_prints_the_token(sim, token_world):
    world, gw = token_world, token_world.gw
    dev = world.dev()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})

    # No profile at all: nothing says which gateway, so no browser, nothing on stdout.
    lost = dev.tty("token", "--profile", profile_name())
    assert lost.code == 1 and lost.stdout == "" and one_line(lost.stderr), lost
    assert dev.browser.opened() == []

    # A profile whose tokens are gone from the keychain: in a terminal with a browser, the helper
    # signs in through the browser and prints the token on the terminal, nothing else.
    profile = profile_name()
    first = logged_in(world, dev, profile)
    world.keyring.clear(profile)
    assert world.keyring.entry(profile) == ""
    shown = dev.tty("token", "--profile", profile)
    assert shown.code == 0, f"{shown}\nbrowser: {dev.browser.log(2)}"
    assert len(dev.browser.opened()) == 2 and dev.browser.result(2)["ok"], dev.browser.log(2)
    token = shown.stdout.removesuffix("\n")
    assert shown.stdout == token + "\n" and JWT_RE.fullmatch(token), shown.screen
    assert token != first
    # Stored: the next helper call (no terminal) prints the same token, which the gateway takes.
    assert dev.token("token", "--profile", profile).token == token
    assert answered(gw, token) == 200
    assert len(dev.browser.opened()) == 2
    assert_nothing_leaked([gw], secrets_of(world, dev, profile, token))


# ---------------------------------------------------------------------------------------------
# The keychain


def test_the_tokens_live_in_the_secret_service_and_in_no_file(token_world):
    world, gw = token_world, token_world.gw
    dev = world.dev()
    profile = profile_name()
    token = logged_in(world, dev, profile)

    entry = world.keyring.entry(profile)
    assert "attribute.service = conduit" in entry and f"attribute.account = token:{profile}" \
        in entry, entry
    assert f"token:{profile}" in world.keyring.all_conduit()
    stored = world.keyring.secret(profile)
    assert stored["access_token"] == token and stored["refresh_token"], "the keychain's entry"
    assert isinstance(stored["expires_at"], int)

    # Nothing on disk has either token: the developer's HOME (CONDUIT_HOME is inside it), the
    # keyring daemon's HOME (its keyring file is encrypted), the browser's files.
    for secret in (token, stored["refresh_token"]):
        # -e: a token may begin with "-" (base64url), which grep would take for an option.
        found = subprocess.run(
            ["grep", "-rlF", "-e", secret, str(dev.root), str(world.keyring.root)],
            capture_output=True, text=True, timeout=30)
        assert found.returncode == 1 and found.stdout == "", f"found in: {found.stdout}"
    assert list((world.keyring.home / ".local" / "share" / "keyrings").glob("*.keyring"))

    # A cache hit is one connection to the Secret Service, in a plain session (no DH: the secret
    # crosses only the user's own bus socket).
    watch = BusWatch(world.keyring)
    try:
        assert dev.token("token", "--profile", profile).token == token
        time.sleep(0.2)
        calls = watch.calls()
    finally:
        watch.stop()
    assert len({c[0] for c in calls}) == 1, calls
    sessions = [c[3] for c in calls if c[2] == "OpenSession"]
    assert sessions == ['string "plain"'], calls

    # The cache hit's wall time as the test sees it (fork, exec, one keychain read; Python's
    # subprocess overhead included): reported, not asserted (scripts/bench-token.py measures).
    hits = [dev.token("token", "--profile", profile) for _ in range(20)]
    assert all(h.token == token for h in hits)
    record_timing("cache hit, Secret Service (subprocess wall time)", [h.ms for h in hits])

    status = dev.token("token", "status", "--profile", profile)
    assert status.code == 0, status
    said = status.stdout + status.stderr
    assert re.search(r"secret.service", said, re.I), said
    assert gw.url in said and dev.browser.login in said, said
    assert token not in said and stored["refresh_token"] not in said
    assert dev.profile(profile)["store"] == "secret-service"
    assert_nothing_leaked([gw], secrets_of(world, dev, profile, token))


# ---------------------------------------------------------------------------------------------
# Not interactive


def test_without_a_terminal_or_under_ci_the_helper_fails_at_once_with_one_line(token_world):
    world = token_world
    dev = world.dev()
    # A profile whose tokens are gone: in a terminal with a browser this would sign in.
    profile = profile_name()
    logged_in(world, dev, profile)
    world.keyring.clear(profile)
    opened = len(dev.browser.opened())
    cases = {
        # setsid (no controlling terminal), stdin /dev/null, stdout and stderr pipes.
        "no terminal, no BROWSER or DISPLAY": lambda: dev.token(
            "token", "--profile", profile, env=dev.env(browser=False)),
        "no terminal, BROWSER and DISPLAY set": lambda: dev.token(
            "token", "--profile", profile, env=dev.env(DISPLAY=":0")),
        "no terminal, no profile at all": lambda: dev.token(
            "token", "--profile", profile_name(), env=dev.env(browser=False)),
        # A real terminal (tmux) and a browser, but CI=true.
        "CI=true in a terminal, BROWSER set": lambda: dev.tty(
            "token", "--profile", profile, env=dev.env(CI="true")),
    }
    for name, run in cases.items():
        times = []
        for _ in range(2 if name.startswith("CI") else 5):
            r = run()
            assert r.code == 1, f"{name}: {r}"
            assert r.stdout == "", f"{name}: stdout must be empty: {r}"
            assert one_line(r.stderr), f"{name}: one stderr line: {r}"
            times.append(r.ms)
        record_timing(f"non-interactive exit 1: {name}", times)
    assert len(dev.browser.opened()) == opened, "a non-interactive helper opened a browser"


# ---------------------------------------------------------------------------------------------
# Concurrency


def test_twenty_helpers_on_an_expired_token_make_one_refresh(sim, token_world):
    world, gw = token_world, token_world.gw
    dev = world.dev()
    profile = profile_name()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})
    old = logged_in(world, dev, profile)
    old_refresh = world.keyring.secret(profile)["refresh_token"]
    expires_at = dev.profile(profile)["expires_at"]

    # The helpers' wall clock 10 s past the access token's end (the gateway's clock is real).
    offset = int(expires_at - time.time()) + 10
    mark = gw.proc.size()
    runs = dev.concurrent(20, "token", "--profile", profile, env=dev.env(**faketime_env(offset)))

    assert all(r.code == 0 for r in runs), "\n".join(str(r) for r in runs if r.code)
    tokens = {r.token for r in runs}
    assert len(tokens) == 1, f"{len(tokens)} different tokens"
    [new] = tokens
    assert new != old
    record_timing("20 concurrent helpers, one refresh (wall time until each exited)",
                  [r.ms for r in runs])
    wait_until(lambda: rotations(gw, mark), timeout=5, what="the rotation's log line")
    assert len(rotations(gw, mark)) == 1, rotations(gw, mark)
    assert len(dev.browser.opened()) == 1
    stored = world.keyring.secret(profile)
    assert stored["access_token"] == new and stored["refresh_token"] != old_refresh
    assert answered(gw, new) == 200
    # Now a cache hit on the real clock; the spent refresh token is refused alone (400), the
    # sign-in lives on.
    assert dev.token("token", "--profile", profile).token == new
    spent = refresh(gw.url, old_refresh)
    assert spent.status_code == 400 and oauth_error(spent) == "invalid_grant", spent.text
    assert answered(gw, new) == 200
    secrets = secrets_of(world, dev, profile, new)
    secrets.update({"old access token": old, "old refresh token": old_refresh})
    assert_nothing_leaked([gw], secrets)


# ---------------------------------------------------------------------------------------------
# The failure marker


def test_a_cancelled_sign_in_opens_no_browser_again_within_the_cool_down(token_world):
    world = token_world
    dev = world.dev()
    profile = profile_name()
    logged_in(world, dev, profile)
    world.keyring.clear(profile)
    # From now on the person presses Cancel on the gateway's consent page.
    dev.browser = Browser(dev.root / "browser-cancel", dev.browser.login, world.idp.name,
                          consent="cancel")

    failed = dev.tty("token", "--profile", profile)
    assert failed.code == 1 and failed.stdout == "", failed
    assert len(dev.browser.opened()) == 1
    seen = dev.browser.result(1)
    assert seen["steps"][-1] == "consent-cancel" and seen["error"] == "access_denied", seen
    assert "cancelled" in seen["text"], seen
    assert "code" not in seen["callback_params"], seen
    assert (dev.conduit_home / "tokens" / f"{profile}.fail").exists()

    # Within 30 s: no browser, one line, exit 1 — however often it is asked.
    times = []
    for _ in range(3):
        again = dev.tty("token", "--profile", profile)
        assert again.code == 1 and again.stdout == "" and one_line(again.stderr), again
        times.append(again.ms)
    assert len(dev.browser.opened()) == 1, "a browser was opened during the cool-down"
    record_timing("failure marker: exit 1 in a terminal during the cool-down", times)

    # With the helper's clock 45 s on, the cool-down is over: a browser again (cancelled again).
    later = dev.tty("token", "--profile", profile, env=dev.env(**faketime_env(45)))
    assert later.code == 1 and later.stdout == "", later
    assert len(dev.browser.opened()) == 2, "no browser after the cool-down"
    assert dev.browser.result(2)["error"] == "access_denied"


# ---------------------------------------------------------------------------------------------
# Profiles


def test_two_gateways_two_profiles_each_token_works_only_at_its_own(sim, token_world):
    world = token_world
    gw_a, gw_b = world.gw, world.gateway()
    dev = world.dev()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})
    pa, pb = profile_name(), profile_name()
    ta = logged_in(world, dev, pa, gw_a)
    tb = logged_in(world, dev, pb, gw_b)

    assert ta != tb
    assert (answered(gw_a, ta), answered(gw_b, tb)) == (200, 200)
    assert (answered(gw_a, tb), answered(gw_b, ta)) == (401, 401)
    assert dev.profile(pa)["gateway"] == gw_a.url and dev.profile(pb)["gateway"] == gw_b.url
    assert world.keyring.secret(pa)["access_token"] == ta
    assert world.keyring.secret(pb)["access_token"] == tb
    # --profile defaults to $CONDUIT_TOKEN_PROFILE.
    assert dev.token("token", env=dev.env(CONDUIT_TOKEN_PROFILE=pb)).token == tb
    assert dev.token("token", "--profile", pa).token == ta
    for p, gw in ((pa, gw_a), (pb, gw_b)):
        status = dev.token("token", "status", "--profile", p)
        assert status.code == 0 and gw.url in status.stdout + status.stderr, status
    secrets = {**{f"a {k}": v for k, v in secrets_of(world, dev, pa, ta).items()},
               **{f"b {k}": v for k, v in secrets_of(world, dev, pb, tb).items()}}
    assert_nothing_leaked([gw_a, gw_b], secrets)


# ---------------------------------------------------------------------------------------------
# logout and status


def test_logout_revokes_at_the_gateway_and_forgets_the_tokens(sim, token_world):
    world, gw = token_world, token_world.gw
    dev = world.dev()
    profile = profile_name()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})
    token = logged_in(world, dev, profile)
    stored = world.keyring.secret(profile)
    secrets = secrets_of(world, dev, profile, token)
    assert dev.token("token", "status", "--profile", profile).code == 0

    out = dev.token("token", "logout", "--profile", profile)
    assert out.code == 0, out

    assert world.keyring.entry(profile) == "" and world.keyring.secret(profile) is None
    assert not (dev.conduit_home / "tokens" / f"{profile}.json").exists()
    # Revoked at the gateway: the refresh token (401 invalid_grant) and the sign-in's access
    # token (once this instance's cache has the revocation).
    r = refresh(gw.url, stored["refresh_token"])
    assert r.status_code == 401 and oauth_error(r) == "invalid_grant", r.text
    wait_until(lambda: answered(gw, token) == 401, timeout=5,
               what="the signed-out access token refused")
    # Not signed in any more: the helper (no terminal) and status say so.
    after = dev.token("token", "--profile", profile)
    assert after.code == 1 and after.stdout == "" and one_line(after.stderr), after
    assert dev.token("token", "status", "--profile", profile).code == 1
    assert_nothing_leaked([gw], secrets)


# ---------------------------------------------------------------------------------------------
# Direct-IdP mode


def renewable_after(id_token: str) -> int:
    """The first second in which the IdP issues a different ID token than `id_token`."""
    return int(jwt.decode(id_token, options={"verify_signature": False})["iat"]) + 1


def test_direct_idp_mode_prints_an_id_token_the_gateways_oidc_tier_accepts(sim, token_world):
    world, gw, idp = token_world, token_world.gw, token_world.idp
    dev = world.dev()
    profile = profile_name()
    sim.rule({"text": ANSWER}, match={"contains": "token hello"})

    done = dev.login(None, profile, "--issuer", idp.issuer, "--client-id", idp.client_id)
    assert done.code == 0, f"{done}\nbrowser: {dev.browser.log(1)}"
    [url] = dev.browser.opened()
    assert url.startswith(idp.discovery()["authorization_endpoint"] + "?"), url
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert q["client_id"] == idp.client_id and q["code_challenge_method"] == "S256", q
    assert set(q["scope"].split()) >= {"openid", "email"} and LOOPBACK.match(q["redirect_uri"]), q
    seen = dev.browser.result(1)
    assert seen["ok"] and seen["steps"][0] == "idp-login", seen
    assert "consent-connect" not in seen["steps"], "direct mode never meets the gateway"

    token = dev.token("token", "--profile", profile).token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == idp.issuer and claims["aud"] == idp.client_id, claims
    assert claims["sub"] == dev.browser.login, claims
    assert answered(gw, token) == 200
    me = gw.call("GET", "/auth/me", token)
    assert dev.browser.login in json.dumps(me), me
    prof = dev.profile(profile)
    assert prof["mode"] == "idp" and prof["issuer"] == idp.issuer, prof
    assert prof["client_id"] == idp.client_id and prof["store"] == "secret-service", prof
    first = world.keyring.secret(profile)
    assert first["access_token"] == token and first["refresh_token"], "offline_access: a refresh"
    secrets = secrets_of(world, dev, profile, token)

    # Past the ID token's end (the helper's clock only): refreshed at the IdP, silently. The
    # IdP's clock is real and RS256 is deterministic: a refresh within the second of the sign-in
    # gets the very same ID token (same iat and exp), so let that second pass first.
    time.sleep(max(0.0, float(renewable_after(token)) - time.time()))
    offset = int(prof["expires_at"] - time.time()) + 10
    fresh = dev.token("token", "--profile", profile, env=dev.env(**faketime_env(offset))).token
    assert fresh != token and len(dev.browser.opened()) == 1
    renewed = jwt.decode(fresh, options={"verify_signature": False})
    assert (renewed["iss"], renewed["aud"], renewed["sub"]) == \
        (claims["iss"], claims["aud"], claims["sub"]), renewed
    assert answered(gw, fresh) == 200
    secrets.update({"fresh ID token": fresh,
                    "fresh refresh token": world.keyring.secret(profile)["refresh_token"] or ""})
    assert_nothing_leaked([gw], secrets)
