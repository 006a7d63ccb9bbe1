"""Team mode (`conduit serve --team`) as a story with the real binary, on SQLite and on a fresh
Postgres database: bootstrap and login, a team, a user and a key, the anthropic and openai SDKs
through that key to the simulator, a key list without secrets, revocation refused on the very
next request, the bad-input table, and the security checks (no secret in the database or the
logs at DEBUG_MODE=all; sessions expire as configured).

The gateway's upstream is the simulator's Anthropic API face (team_harness.UPSTREAM_CONFIG).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from conftest import ANTHROPIC_TEST_API_KEY, CONDUIT_BIN
from team_harness import (  # noqa: F401  (fixtures)
    ADMIN_PASSWORD, MODEL, PgDatabase, TeamGateway, pg_reachable, secrets_in, start_team_gateway,
    stored_files, team_gateway, unique,
)

ENGINES = pytest.mark.parametrize("engine", ["sqlite", "postgres"])
KEY_RE = re.compile(r"^sk-proxy-[0-9a-f]{64}$")
SESSION_RE = re.compile(r"^cst_[0-9a-f]{64}$")
NASTY = "O'Brien \"quoted\" '); DROP TABLE teams; -- <script>alert('x')</script> &amp; ünï 🚀"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def gw(request, sim, workdir):
    """One team gateway per engine, shared by the story tests of this module."""
    db = None
    if request.param == "postgres":
        if not pg_reachable():
            pytest.fail("Postgres not reachable (CONDUIT_TEST_PG_URL)")
        db = PgDatabase()
    g = start_team_gateway(sim, workdir, request.param, db)
    yield g
    g.stop()
    if db is not None:
        db.drop()


def parse_time(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def error_of(r: httpx.Response) -> dict:
    """The Anthropic error envelope's `error` object (and a check that it is one)."""
    body = r.json()
    assert body.get("type") == "error", body
    return body["error"]


def member_with_key(gw: TeamGateway, team_id: str | None = None) -> tuple[dict, str, dict]:
    """A fresh member with a password; (user, password, key answer)."""
    password = "pw-" + uuid.uuid4().hex
    user = gw.create_user(unique("dev"), "member", password=password, team_id=team_id)
    key = gw.create_key(unique("key"), user_id=user["id"])
    return user, password, key


def ask_anthropic(client: anthropic.Anthropic, text: str, stream: bool) -> str:
    kw = {"model": MODEL, "max_tokens": 256, "messages": [{"role": "user", "content": text}]}
    if stream:
        with client.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = client.messages.create(**kw)
    return "".join(b.text for b in msg.content if b.type == "text")


def ask_openai(client: openai.OpenAI, text: str, stream: bool) -> str:
    messages = [{"role": "user", "content": text}]
    if not stream:
        return client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    out = ""
    for chunk in client.chat.completions.create(model=MODEL, messages=messages, stream=True):
        for c in chunk.choices:
            out += c.delta.content or ""
    return out


# ---------------------------------------------------------------------------------------------
# The story


def test_bootstrap_then_login(gw):
    before = datetime.now(timezone.utc)
    r = gw.login("admin", ADMIN_PASSWORD)

    assert SESSION_RE.match(r["token"]), r
    assert r["type"] == "session" and r["role"] == "admin" and r["user_id"]
    expires = parse_time(r["expires_at"])
    assert before + timedelta(hours=24) - timedelta(minutes=2) <= expires \
        <= datetime.now(timezone.utc) + timedelta(hours=24, minutes=2), r["expires_at"]
    me = gw.call("GET", "/auth/me", r["token"])
    assert (me["type"], me["subject"], me["role"], me["user_id"]) == \
        ("session", "admin", "admin", r["user_id"])
    assert gw.readyz().json() == {"ready": True}
    assert gw.http.get("/healthz").json() == {"status": "ok"}


def test_team_user_key_then_both_sdks_through_the_key(sim, gw):
    sim.rule({"text": "Hello through the team gateway.", "chunk": 5}, match={"contains": "say hello"})
    team = gw.create_team(unique("platform"))
    password = "pw-" + uuid.uuid4().hex
    user = gw.create_user(unique("dev"), "member", password=password, team_id=team["id"],
                          email="dev@example.com")
    assert (user["role"], user["team_id"], user["active"]) == ("member", team["id"], True)
    assert password not in json.dumps(user) and "password_hash" not in user
    assert "$argon2" not in json.dumps(user)

    key = gw.create_key(unique("laptop"), user_id=user["id"])

    assert KEY_RE.match(key["key"]), key
    assert key["prefix"] == key["key"][:16] + "..."
    listed = next(k for k in gw.list_keys() if k["id"] == key["id"])
    assert (listed["user_id"], listed["team_id"]) == (user["id"], team["id"]), \
        "team_id defaults to the user's team"
    for stream in (False, True):
        assert ask_anthropic(gw.anthropic(key["key"]), "Please say hello.", stream) == \
            "Hello through the team gateway."
        assert ask_openai(gw.openai(key["key"]), "Please say hello.", stream) == \
            "Hello through the team gateway."
    # The gateway's credential never goes upstream: the sim saw its own API key only.
    calls = [e for e in sim.log() if e.get("service") == "anthropic"
             and e.get("path", "").endswith("/v1/messages")]
    assert len(calls) == 4
    for c in calls:
        sent = json.dumps(c.get("headers", {}))
        assert key["key"] not in sent, "the virtual key went upstream"
        assert ANTHROPIC_TEST_API_KEY in sent


def test_a_member_signs_in_and_uses_the_gateway_with_the_session(sim, gw):
    sim.rule({"text": "Session works."})
    user, password, _ = member_with_key(gw)
    session = gw.login(user["subject"], password)

    assert session["role"] == "member" and session["user_id"] == user["id"]
    assert ask_anthropic(gw.anthropic(session["token"]), "hi", False) == "Session works."
    assert gw.call("POST", "/auth/logout", session["token"]) == {"logged_out": True}
    with pytest.raises(anthropic.AuthenticationError) as err:
        ask_anthropic(gw.anthropic(session["token"]), "hi", False)
    assert err.value.response.headers.get("x-should-retry") == "false"


def test_the_key_list_shows_no_secret(gw):
    user, password, key = member_with_key(gw)
    own = gw.call("POST", "/me/keys", gw.login(user["subject"], password)["token"], 201,
                  json={"name": unique("own")})
    secrets = [key["key"], own["key"], key["key"].removeprefix("sk-proxy-"),
               own["key"].removeprefix("sk-proxy-")]

    listing = gw.request("GET", "/admin/keys", gw.admin)
    mine = gw.request("GET", "/me/keys", gw.login(user["subject"], password)["token"])

    for r in (listing, mine):
        assert r.status_code == 200, r.text
        for s in secrets:
            assert s not in r.text
    entries = {k["id"]: k for k in listing.json()["keys"]}
    entry = entries[key["id"]]
    for field in ("id", "prefix", "name", "user_id", "team_id", "is_active", "rate_limit_rpm",
                  "created_at", "last_used_at", "expires_at", "revoked_at", "revoked"):
        assert field in entry, (field, entry)
    assert "key" not in entry
    assert entry["prefix"] == key["prefix"] and entry["revoked"] is False
    assert {k["id"] for k in mine.json()["keys"]} == {key["id"], own["id"]}


@pytest.mark.parametrize("dialect", ["anthropic", "openai"])
def test_revoke_then_401_on_the_very_next_request(sim, gw, dialect):
    sim.rule({"text": "still here"})
    _, _, key = member_with_key(gw)
    if dialect == "anthropic":
        client, ask, exc = gw.anthropic(key["key"]), ask_anthropic, anthropic.AuthenticationError
    else:
        client, ask, exc = gw.openai(key["key"]), ask_openai, openai.AuthenticationError
    assert ask(client, "hi", False) == "still here"
    upstream_calls = len(sim.log())

    assert gw.revoke_key(key["id"]) == {"revoked": True}
    with pytest.raises(exc) as err:
        ask(client, "hi", False)

    r = err.value.response
    assert r.status_code == 401 and r.headers.get("x-should-retry") == "false"
    body = r.json()
    if dialect == "anthropic":
        assert body["type"] == "error" and body["error"]["type"] == "authentication_error", body
    else:
        assert "type" not in body or body.get("type") != "error", body
        assert body["error"]["message"] and body["error"]["code"] == "invalid_api_key", body
    assert len(sim.log()) == upstream_calls, "a refused request must not reach the upstream"
    listed = next(k for k in gw.list_keys() if k["id"] == key["id"])
    assert listed["revoked"] is True and listed["revoked_at"]


def test_a_member_revokes_their_own_key_and_not_anothers(sim, gw):
    sim.rule({"text": "ok"})
    user, password, key = member_with_key(gw)
    _, _, other = member_with_key(gw)
    token = gw.login(user["subject"], password)["token"]

    r = gw.request("POST", f"/me/keys/{other['id']}/revoke", token)
    assert r.status_code == 404 and error_of(r)["type"] == "not_found_error", r.text
    assert gw.call("POST", f"/me/keys/{key['id']}/revoke", token) == {"revoked": True}
    assert gw.models_status(key["key"]) == 401
    assert gw.models_status(other["key"]) == 200


def test_an_expired_key_is_refused(sim, gw):
    _, _, key = member_with_key(gw)
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    short = gw.create_key(unique("short"), expires_at=soon)
    assert short["expires_at"]

    assert gw.models_status(short["key"]) == 200
    time.sleep(3.1)
    assert gw.models_status(short["key"]) == 401
    assert gw.models_status(key["key"]) == 200


def test_every_admin_write_is_audited(gw):
    team = gw.create_team(unique("audited"))
    user = gw.create_user(unique("audited"), "member", team_id=team["id"])
    key = gw.create_key(unique("audited"), user_id=user["id"])
    gw.revoke_key(key["id"])
    gw.set_active(user["id"], False)

    entries = gw.call("GET", "/admin/audit?limit=50", gw.admin)["entries"]
    targets = {(e["action"], e["target"]) for e in entries}
    for target in (team["id"], user["id"], key["id"]):
        assert any(t == target for _, t in targets), (target, targets)
    for e in entries[:5]:
        assert e["actor"] and e["at"] and e["ip"], e
        assert "127.0.0.1" in e["ip"], e
    assert key["key"] not in json.dumps(entries)


# ---------------------------------------------------------------------------------------------
# Bad input: each a clear error in the right shape


@pytest.fixture(scope="module")
def cast(gw):
    """The people and things the bad-input table refers to, on the module's gateway."""
    pw = "pw-" + uuid.uuid4().hex
    member = gw.create_user(unique("member"), "member", password=pw)
    auditor = gw.create_user(unique("auditor"), "auditor", password=pw)
    key = gw.create_key(unique("vk"), user_id=member["id"])
    other = gw.create_key(unique("other"))
    return {
        "admin": gw.admin,
        "member": gw.login(member["subject"], pw)["token"],
        "auditor": gw.login(auditor["subject"], pw)["token"],
        "key": key["key"],
        "none": None,
        "member_id": member["id"],
        "other_key_id": other["id"],
        "unknown": str(uuid.uuid4()),
    }


BIG = "x" * (65 * 1024)

# (id, who, method, path, body (JSON or raw str), status, error type, message fragment)
BAD_INPUT = [
    ("json-wrong-type", "admin", "POST", "/admin/keys", {"name": "k", "rate_limit_rpm": "lots"},
     400, "invalid_request_error", "rate_limit_rpm"),
    ("json-subject-number", "admin", "POST", "/admin/users", {"subject": 42},
     400, "invalid_request_error", "subject"),
    ("json-missing-name", "admin", "POST", "/admin/teams", {}, 400, "invalid_request_error", "name"),
    ("json-bad-active", "admin", "PATCH", "/admin/users/{member_id}", {"active": "no"},
     400, "invalid_request_error", "active"),
    ("json-bad-expiry", "admin", "POST", "/admin/keys", {"name": "k", "expires_at": "tomorrow"},
     400, "invalid_request_error", "expires_at"),
    ("json-bad-role", "admin", "POST", "/admin/users", {"subject": "r", "role": "root"},
     400, "invalid_request_error", "role"),
    ("not-json", "admin", "POST", "/admin/teams", "{not json", 400, "invalid_request_error", ""),
    ("revoke-unknown-key", "admin", "POST", "/admin/keys/{unknown}/revoke", None,
     404, "not_found_error", ""),
    ("patch-unknown-user", "admin", "PATCH", "/admin/users/{unknown}", {"active": False},
     404, "not_found_error", ""),
    ("team-of-unknown-user", "admin", "PUT", "/admin/users/{unknown}/team", {"team_id": None},
     404, "not_found_error", ""),
    ("unknown-team", "admin", "PUT", "/admin/users/{member_id}/team", {"team_id": "{unknown}"},
     404, "not_found_error", ""),
    ("key-for-unknown-user", "admin", "POST", "/admin/keys", {"name": "k", "user_id": "{unknown}"},
     404, "not_found_error", ""),
    ("member-revokes-anothers", "member", "POST", "/me/keys/{other_key_id}/revoke", None,
     404, "not_found_error", ""),
    ("member-lists-keys", "member", "GET", "/admin/keys", None, 403, "permission_error", ""),
    ("member-creates-key", "member", "POST", "/admin/keys", {"name": "k"}, 403, "permission_error", ""),
    ("member-lists-users", "member", "GET", "/admin/users", None, 403, "permission_error", ""),
    ("member-creates-team", "member", "POST", "/admin/teams", {"name": "t"}, 403, "permission_error", ""),
    ("member-reads-audit", "member", "GET", "/admin/audit", None, 403, "permission_error", ""),
    ("auditor-creates-key", "auditor", "POST", "/admin/keys", {"name": "k"}, 403, "permission_error", ""),
    ("auditor-creates-team", "auditor", "POST", "/admin/teams", {"name": "t"}, 403, "permission_error", ""),
    ("auditor-creates-user", "auditor", "POST", "/admin/users", {"subject": "s"}, 403, "permission_error", ""),
    ("auditor-revokes", "auditor", "POST", "/admin/keys/{other_key_id}/revoke", None,
     403, "permission_error", ""),
    ("auditor-deactivates", "auditor", "PATCH", "/admin/users/{member_id}", {"active": False},
     403, "permission_error", ""),
    ("auditor-moves-user", "auditor", "PUT", "/admin/users/{member_id}/team", {"team_id": None},
     403, "permission_error", ""),
    ("virtual-key-on-admin", "key", "GET", "/admin/keys", None, 401, "authentication_error", ""),
    ("no-credential", "none", "GET", "/admin/users", None, 401, "authentication_error", ""),
    ("garbage-session", "none", "GET", "/auth/me", None, 401, "authentication_error", ""),
    ("oversized-team", "admin", "POST", "/admin/teams", {"name": BIG}, 413, "request_too_large", ""),
    ("oversized-key", "admin", "POST", "/admin/keys", {"name": BIG}, 413, "request_too_large", ""),
]


def fill(value, cast: dict):
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: str(cast.get(m.group(1), m.group(0))), value)
    if isinstance(value, dict):
        return {k: fill(v, cast) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input(gw, cast, case):
    name, who, method, path, body, status, etype, fragment = case
    kw: dict = {}
    if isinstance(body, str):
        kw = {"content": body, "headers": {"content-type": "application/json"}}
    elif body is not None:
        kw = {"json": fill(body, cast)}
    token = cast[who] if name != "garbage-session" else "cst_" + "0" * 64
    if name == "virtual-key-on-admin":
        r = gw.http.request(method, path, headers={"x-api-key": token}, **kw)
    else:
        r = gw.request(method, fill(path, cast), token, **kw)

    assert r.status_code == status, r.text
    err = error_of(r)
    assert err["type"] == etype, r.text
    assert err["message"], r.text
    assert fragment in err["message"], r.text
    if status == 401:
        assert r.headers.get("x-should-retry") == "false"


def test_an_auditor_reads_everything(gw, cast):
    for path in ("/admin/keys", "/admin/users", "/admin/teams", "/admin/audit"):
        r = gw.request("GET", path, cast["auditor"])
        assert r.status_code == 200, (path, r.text)


def test_names_with_quotes_sql_and_html_come_back_verbatim(gw):
    name = NASTY + unique("")
    team = gw.create_team(name)
    user = gw.create_user(name, "member", team_id=team["id"], email="o'brien+<x>@example.com")
    key = gw.create_key(name, user_id=user["id"])

    assert team["name"] == name and user["subject"] == name and key["name"] == name
    assert user["email"] == "o'brien+<x>@example.com"
    assert next(t for t in gw.list_teams() if t["id"] == team["id"])["name"] == name
    assert next(u for u in gw.list_users() if u["id"] == user["id"])["subject"] == name
    assert next(k for k in gw.list_keys() if k["id"] == key["id"])["name"] == name
    assert gw.models_status(key["key"]) == 200
    # A taken name is a clear 400, not a 500 (and the tables are all still there).
    r = gw.request("POST", "/admin/teams", gw.admin, json={"name": name})
    assert r.status_code == 400 and error_of(r)["type"] == "invalid_request_error", r.text


@ENGINES
def test_wrong_password_and_unknown_user_get_the_same_answer(team_gateway, engine):
    gw = team_gateway(engine)
    gw.create_user("known", "member", password="right-password-1")

    wrong = gw.request("POST", "/auth/login", json={"username": "known", "password": "nope"})
    unknown = gw.request("POST", "/auth/login", json={"username": "nobody", "password": "nope"})

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert error_of(wrong) == {"type": "authentication_error",
                               "message": "invalid username or password"}
    volatile = {"date", "request-id", "x-request-id", "content-length"}
    assert {k: v for k, v in wrong.headers.items() if k not in volatile} == \
        {k: v for k, v in unknown.headers.items() if k not in volatile}
    entries = gw.call("GET", "/admin/audit", gw.admin)["entries"]
    logins = [e for e in entries if "login" in e["action"]]
    # Two failures and the admin's own success, each audited; never the password tried.
    assert len(logins) >= 3, entries
    assert "nope" not in json.dumps(entries)


def _client_from(gw: TeamGateway, ip: str) -> httpx.Client:
    """A client whose connections come from another loopback address (its own throttle IP)."""
    return httpx.Client(base_url=gw.url, timeout=15,
                        transport=httpx.HTTPTransport(local_address=ip))


def _login(c: httpx.Client, user: str, password: str) -> httpx.Response:
    return c.post("/auth/login", json={"username": user, "password": password})


@ENGINES
def test_failed_logins_are_throttled_per_user_and_per_ip(team_gateway, engine):
    gw = team_gateway(engine)
    gw.create_user("victim", "member", password="right-password-2")

    # Per user (from one address): five failures, then 429 even with the right password.
    a = _client_from(gw, "127.0.0.2")
    statuses = [_login(a, "victim", f"wrong-{i}").status_code for i in range(5)]
    assert statuses == [401] * 5
    throttled = _login(a, "victim", "wrong-5")
    assert throttled.status_code == 429, throttled.text
    assert error_of(throttled)["type"] == "rate_limit_error"
    wait = int(throttled.headers["retry-after"])
    assert 1 <= wait <= 300
    right = _login(a, "victim", "right-password-2")
    assert right.status_code == 429 and "retry-after" in right.headers, right.text
    # The user's throttle follows the user to another address.
    b = _client_from(gw, "127.0.0.3")
    assert _login(b, "victim", "right-password-2").status_code == 429

    # An unknown user is throttled exactly like a known one (nothing tells them apart).
    c = _client_from(gw, "127.0.0.4")
    ghost = [_login(c, "ghost", f"wrong-{i}").status_code for i in range(6)]
    assert ghost == [401] * 5 + [429]

    # Per address: five failures on five names, then the next name from there is refused too.
    d = _client_from(gw, "127.0.0.5")
    spread = [_login(d, f"name-{i}", "wrong").status_code for i in range(6)]
    assert spread == [401] * 5 + [429]

    # Waiting as told, the right password works, and success resets the user's counter.
    ok = _login(_client_from(gw, "127.0.0.6"), "victim", "right-password-2")
    if ok.status_code == 429:
        time.sleep(int(ok.headers["retry-after"]) + 0.2)
        ok = _login(_client_from(gw, "127.0.0.6"), "victim", "right-password-2")
    assert ok.status_code == 200, ok.text
    assert _login(_client_from(gw, "127.0.0.7"), "victim", "wrong").status_code == 401


# ---------------------------------------------------------------------------------------------
# Security


@ENGINES
def test_no_key_or_password_in_the_database_or_the_logs(sim, team_gateway, engine):
    sim.rule({"text": "logged"})
    gw = team_gateway(engine, env={"DEBUG_MODE": "all"})
    secrets = {"admin password": ADMIN_PASSWORD}
    member_pw = "member-secret-" + uuid.uuid4().hex
    user = gw.create_user(unique("sec"), "member", password=member_pw)
    secrets["member password"] = member_pw
    secrets["wrong password"] = "wrong-secret-" + uuid.uuid4().hex
    assert gw.request("POST", "/auth/login",
                      json={"username": user["subject"], "password": secrets["wrong password"]}
                      ).status_code == 401
    session = gw.login(user["subject"], member_pw)["token"]
    secrets["admin session"] = gw.admin
    secrets["member session"] = session
    key = gw.create_key(unique("sec"), user_id=user["id"])
    own = gw.call("POST", "/me/keys", session, 201, json={"name": unique("own")})
    revoked = gw.create_key(unique("gone"))
    secrets.update({"key": key["key"], "own key": own["key"], "revoked key": revoked["key"]})
    for s in ("key", "own key", "revoked key"):
        secrets[s + " (hex)"] = secrets[s].removeprefix("sk-proxy-")
    for cred in (key["key"], own["key"], session):
        ask_anthropic(gw.anthropic(cred), "hello", True)
        ask_openai(gw.openai(cred), "hello", False)
        # Both headers at once, the way some clients send them.
        gw.http.post("/v1/messages", headers={"x-api-key": cred, "authorization": f"Bearer {cred}",
                                              "anthropic-version": "2023-06-01"},
                     json={"model": MODEL, "max_tokens": 16,
                           "messages": [{"role": "user", "content": "both"}]})
    gw.revoke_key(revoked["id"])
    assert gw.models_status(revoked["key"]) == 401
    gw.call("POST", "/auth/logout", session)

    running = stored_files(gw)
    if engine == "sqlite":
        names = {p.name for p in running}
        assert "team.db" in names, sorted(names)
    assert secrets_in(running, secrets) == []
    gw.stop()
    assert secrets_in(stored_files(gw), secrets) == []
    # The access log names the key id and the user instead.
    line = gw.access_line(key["id"])
    assert line, "the access log should name the key id"
    assert user["subject"] in line, f"the access line should name the user: {line}"


def test_session_lifetime_follows_session_ttl_hours(team_gateway):
    gw = team_gateway("sqlite", env={"SESSION_TTL_HOURS": "2"})
    before = datetime.now(timezone.utc)
    token = gw.login("admin", ADMIN_PASSWORD)

    expires = parse_time(token["expires_at"])
    assert before + timedelta(hours=2, minutes=-2) <= expires <= before + timedelta(hours=2, minutes=2)
    me = gw.call("GET", "/auth/me", token["token"])
    assert me["type"] == "session"


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"


def test_a_session_expires_and_a_key_does_not(team_gateway, workdir):
    """The gateway's wall clock is moved past the session's end with libfaketime (realtime
    only: timers and the cache's staleness run on the monotonic clock, which is left alone)."""
    if not Path(FAKETIME_LIB).is_file():
        pytest.fail(f"{FAKETIME_LIB} missing: scripts/setup-e2e.sh installs libfaketime")
    clock = Path(tempfile.mkdtemp(dir=workdir)) / "faketime"
    clock.write_text("+0\n")
    gw = team_gateway("sqlite", env={
        "LD_PRELOAD": FAKETIME_LIB, "FAKETIME_TIMESTAMP_FILE": str(clock),
        "FAKETIME_NO_CACHE": "1", "DONT_FAKE_MONOTONIC": "1", "SESSION_TTL_HOURS": "1"})
    user = gw.create_user(unique("dev"), "member", password="pw-expiring-1")
    session = gw.login(user["subject"], "pw-expiring-1")
    key = gw.create_key(unique("k"), user_id=user["id"])
    assert parse_time(session["expires_at"]) - datetime.now(timezone.utc) < timedelta(hours=1, minutes=1)
    assert gw.models_status(session["token"]) == 200

    clock.write_text("+3660\n")  # one hour and a minute later

    assert gw.models_status(session["token"]) == 401
    r = gw.request("GET", "/auth/me", session["token"])
    assert r.status_code == 401 and r.headers.get("x-should-retry") == "false", r.text
    assert gw.models_status(key["key"]) == 200
    fresh = gw.login(user["subject"], "pw-expiring-1")
    assert gw.models_status(fresh["token"]) == 200


def test_the_story_over_https_with_a_self_signed_certificate(sim, team_gateway, workdir):
    sim.rule({"text": "Hello over TLS.", "chunk": 4})
    out = Path(tempfile.mkdtemp(dir=workdir))
    made = subprocess.run([str(CONDUIT_BIN), "team", "cert", "--host", "gw.example.test",
                           "--out", str(out)], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "CONDUIT_HOME": str(out / "home")})
    assert made.returncode == 0, made.stderr
    assert re.search(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", made.stdout), made.stdout
    gw = team_gateway("sqlite", tls=(out / "cert.pem", out / "key.pem"))
    assert gw.url.startswith("https://")

    key = gw.create_key(unique("tls"))
    assert ask_anthropic(gw.anthropic(key["key"]), "hi", True) == "Hello over TLS."
    assert ask_openai(gw.openai(key["key"]), "hi", False) == "Hello over TLS."
    # Not without trusting the certificate, and not in plain HTTP.
    with pytest.raises(httpx.ConnectError):
        httpx.get(gw.url + "/healthz", timeout=5)
    with pytest.raises(httpx.TransportError):
        httpx.get(gw.url.replace("https://", "http://") + "/healthz", timeout=5)


@pytest.mark.parametrize("public", [None, "https://gw.example.test,https://ai.example.org:8443"])
def test_the_host_guard_admits_the_public_names(team_gateway, public):
    gw = team_gateway("sqlite", env={"CONDUIT_PUBLIC_URL": public} if public else {})
    key = gw.create_key(unique("host"))

    def status(host: str) -> int:
        return gw.http.get("/v1/models", headers={"host": host, "x-api-key": key["key"],
                                                  "anthropic-version": "2023-06-01"}).status_code

    assert status(gw.url.removeprefix("http://")) == 200
    for name in ("gw.example.test", "gw.example.test:443", "ai.example.org:8443"):
        assert status(name) == (200 if public else 403), name
    assert status("evil.example.com") == 403
    # The admin API is behind the same guard.
    r = gw.http.post("/auth/login", headers={"host": "evil.example.com"},
                     json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 403, r.text


def test_users_move_between_teams_and_change_role(gw):
    first, second = gw.create_team(unique("blue")), gw.create_team(unique("green"))
    pw = "pw-" + uuid.uuid4().hex
    user = gw.create_user(unique("mover"), "member", password=pw, team_id=first["id"])
    session = gw.login(user["subject"], pw)["token"]

    assert gw.set_team(user["id"], second["id"]) == {"updated": True}
    assert next(u for u in gw.list_users() if u["id"] == user["id"])["team_id"] == second["id"]
    key = gw.create_key(unique("k"), user_id=user["id"])
    assert next(k for k in gw.list_keys() if k["id"] == key["id"])["team_id"] == second["id"]
    assert gw.set_team(user["id"], None) == {"updated": True}
    assert next(u for u in gw.list_users() if u["id"] == user["id"])["team_id"] is None

    assert gw.request("GET", "/admin/keys", session).status_code == 403
    changed = gw.call("PATCH", f"/admin/users/{user['id']}", gw.admin, json={"role": "auditor"})
    assert changed["role"] == "auditor"
    assert gw.request("GET", "/admin/keys", session).status_code == 200, "the new role applies at once"
    assert gw.request("POST", "/admin/teams", session, json={"name": "x"}).status_code == 403
