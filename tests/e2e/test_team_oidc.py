"""OIDC bearer tokens on the team gateway against real identity providers (oidc-provider from
npm, tests/e2e/node/idp.mjs): two IdPs at once with different audiences and mail domains, one from
`OIDC_*` and one from `POST /admin/idps` (idp_harness.start_sso).

- Real sign-ins at each IdP give access tokens the gateway takes on /v1/messages (streamed
  through the simulator), and the person is auto-provisioned with that IdP's default role.
- Outside domains and `email_verified: false` are refused, and nothing is provisioned for them.
- Key rotation at the IdP: the new `kid` is accepted after exactly one more JWKS fetch (counted
  by the IdP itself).
- Forged and bad tokens (alg none, HS256 keyed with the public key, wrong iss / aud, expired,
  not yet valid, over 16 KB, ...) are refused with 401 and `x-should-retry: false`.
- A flood of random `kid`s costs the IdP a bounded number of JWKS fetches.
- An IdP without auto-provisioning: 403 that says so.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from idp_harness import Idp, IdpKey, Sso, forge_hs256, forge_none, start_sso, stop_sso
from team_harness import TeamGateway, unique, wait_until
from test_team import ask_anthropic

# The gateway's cool-down between two JWKS fetches for unknown kids, per issuer.
COOL_DOWN = 10.0


@pytest.fixture(scope="module")
def sso(sim, workdir):
    """idp_harness's two IdPs and gateway; the second IdP provisions auditors, so the tests see
    each IdP's `default_role` used."""
    s = start_sso(sim, workdir, admin_body={"default_role": "auditor"})
    yield s
    stop_sso(s)


def assert_refused(r: httpx.Response, status: int = 401) -> dict:
    assert r.status_code == status, f"expected {status}, got {r.status_code} {r.text}"
    body = r.json()
    assert body.get("type") == "error", body
    if status == 401:
        assert body["error"]["type"] == "authentication_error", body
        assert r.headers.get("x-should-retry") == "false", dict(r.headers)
    return body["error"]


def user_by_subject(gw: TeamGateway, subject: str) -> dict | None:
    return next((u for u in gw.list_users() if u["subject"] == subject), None)


def accepted_now(gw: TeamGateway, idp: Idp, login: str):
    """A fresh valid token for `login` is taken on /v1 (the gateway may need a moment to learn
    an IdP added through the API)."""
    r = gw.post_messages(idp.mint(idp.claims(login)))
    return r.status_code == 200


# ---------------------------------------------------------------------------------------------
# Real sign-ins


@pytest.mark.parametrize("which, role", [("env", "member"), ("admin", "auditor")])
def test_real_token_from_each_idp_streams_and_provisions_with_the_default_role(sim, sso, which,
                                                                               role):
    idp = sso.idp(which)
    login = unique("dev")
    token = idp.password_login_code_flow(login)["access_token"]
    sim.rule({"text": f"Hello {login} via SSO.", "chunk": 4}, match={"contains": "say hello"})
    assert ask_anthropic(sso.gw.anthropic(None, auth_token=token), "say hello", True) == \
        f"Hello {login} via SSO."
    subject = f"{login}@{idp.issuer}"
    user = wait_until(lambda: user_by_subject(sso.gw, subject), what="provisioned user")
    assert (user["email"], user["role"], user["active"]) == (idp.email_of(login), role, True), user
    me = sso.gw.call("GET", "/auth/me", token)
    assert (me["user_id"], me["role"]) == (user["id"], role), me
    upstream = [e for e in sim.log() if e.get("path", "").startswith("/anthropic/v1/messages")]
    assert upstream and all(token not in json.dumps(e) for e in upstream), \
        "the IdP token must not reach the upstream"

    # The same person again: found by (iss, sub), not provisioned twice.
    again = idp.password_login_code_flow(login)["access_token"]
    assert sso.gw.post_messages(again).status_code == 200
    assert [u["subject"] for u in sso.gw.list_users()].count(subject) == 1


@pytest.mark.parametrize("which, login, why", [
    ("env", "eve@outside.example", "a domain outside allowed_domains"),
    ("env", "bob@merged-b.example", "the other IdP's domain"),
    ("admin", "carol@corp-a.example", "the other IdP's domain"),
    ("env", "mallory@corp-a.example@outside.example", "the part after the LAST @ decides"),
    ("env", "unverified-dan", "email_verified false"),
    ("admin", "unverified-erin", "email_verified false"),
])
def test_real_sign_in_refused_and_nothing_provisioned(sso, which, login, why):
    idp = sso.idp(which)
    token = idp.password_login_code_flow(login)["access_token"]
    assert_refused(sso.gw.post_messages(token))
    assert user_by_subject(sso.gw, f"{login}@{idp.issuer}") is None, why


def test_domain_is_compared_without_case(sso):
    idp = sso.env_idp
    login = unique("Mixed") + "@CORP-A.Example"
    token = idp.password_login_code_flow(login)["access_token"]
    assert sso.gw.post_messages(token).status_code == 200


def test_deactivated_user_is_refused(sso):
    idp = sso.env_idp
    login = unique("leaver")
    token = idp.password_login_code_flow(login)["access_token"]
    assert sso.gw.post_messages(token).status_code == 200
    user = user_by_subject(sso.gw, f"{login}@{idp.issuer}")
    sso.gw.set_active(user["id"], False)
    r = wait_until(lambda: (r := sso.gw.post_messages(token)).status_code != 200 and r,
                   what="deactivation applied")
    assert r.status_code == 403, r.text


def test_idp_without_auto_provision_answers_403_saying_so(sso):
    idp, _ = sso.add_idp("strict", "strict.example", auto_provision=False)
    login = unique("stranger")
    token = idp.password_login_code_flow(login)["access_token"]
    r = wait_until(lambda: (r := sso.gw.post_messages(token)).status_code != 401 and r,
                   what="the new IdP known to the gateway")
    err = assert_refused(r, 403)
    assert err["type"] == "permission_error", err
    assert "no account" in err["message"] and "ask an admin" in err["message"], err
    assert user_by_subject(sso.gw, f"{login}@{idp.issuer}") is None


# ---------------------------------------------------------------------------------------------
# Tokens the tests sign or forge


def other_key_same_kid(idp: Idp, claims: dict) -> str:
    return idp.mint(claims, key=IdpKey.new("RS256"), kid=idp.keys[0].kid)


def now() -> int:
    return int(time.time())


# Each builds a token for the env IdP (`s` is the sso fixture, `login` a fresh name).
BAD_TOKENS = {
    "alg none": lambda s, login: forge_none(s.env_idp.claims(login), kid=s.env_idp.keys[0].kid),
    "HS256 keyed with the IdP's public key PEM": lambda s, login: forge_hs256(
        s.env_idp.claims(login), s.env_idp.keys[0].public_pem(), kid=s.env_idp.keys[0].kid),
    "signed by a stranger's key under the IdP's kid": lambda s, login: other_key_same_kid(
        s.env_idp, s.env_idp.claims(login)),
    "header alg RS512 where the key says RS256": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login), alg="RS512"),
    "unknown issuer": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, iss="http://127.0.0.1:9/elsewhere")),
    "issuer with a trailing slash": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, iss=s.env_idp.issuer + "/")),
    "the other IdP's issuer with this IdP's key": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, iss=s.admin_idp.issuer, aud=s.admin_idp.audience)),
    "the other IdP's audience": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, aud=s.admin_idp.audience)),
    "the client id as audience (an ID token's aud)": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, aud=s.env_idp.client_id)),
    "aud array without azp": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, aud=[s.env_idp.audience, "api://someone-else"])),
    "no aud": lambda s, login: s.env_idp.mint(s.env_idp.claims(login, aud=None)),
    "expired an hour ago": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, iat=now() - 7200, nbf=now() - 7200, exp=now() - 3600)),
    "not valid before an hour from now": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, nbf=now() + 3600, exp=now() + 7200)),
    "issued an hour in the future": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, iat=now() + 3600, exp=now() + 7200)),
    "over 16 KB (validly signed)": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, pad="x" * 17000)),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_forged_or_bad_token_is_refused(sim, sso, case):
    login = unique("victim")
    token = BAD_TOKENS[case](sso, login)
    if case.startswith("over 16 KB"):
        assert len(token) > 16 * 1024
    upstream_before = len(sim.log())
    assert_refused(sso.gw.post_messages(token))
    assert len(sim.log()) == upstream_before, "a refused request must not reach the upstream"
    assert user_by_subject(sso.gw, f"{login}@{sso.env_idp.issuer}") is None


GOOD_TOKENS = {
    "aud array with azp = the audience": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, aud=[s.env_idp.audience, "api://someone-else"], azp=s.env_idp.audience)),
    "expired 20 s ago (within the 60 s skew)": lambda s, login: s.env_idp.mint(
        s.env_idp.claims(login, iat=now() - 600, nbf=now() - 600, exp=now() - 20)),
    "email from preferred_username": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, email=None, preferred_username=s.env_idp.email_of(login))),
    "email from upn": lambda s, login: s.env_idp.mint(s.env_idp.claims(
        login, email=None, upn=s.env_idp.email_of(login))),
}


@pytest.mark.parametrize("case", list(GOOD_TOKENS))
def test_minted_token_edge_cases_accepted(sso, case):
    login = unique("edge")
    r = sso.gw.post_messages(GOOD_TOKENS[case](sso, login))
    assert r.status_code == 200, r.text
    user = user_by_subject(sso.gw, f"{login}@{sso.env_idp.issuer}")
    assert user and user["email"] == sso.env_idp.email_of(login), user


# ---------------------------------------------------------------------------------------------
# JWKS: rotation and floods, counted at the IdP


def fresh_idp_past_cool_down(sso: Sso, label: str) -> Idp:
    """A new IdP whose key set the gateway has fetched, with the cool-down behind it."""
    idp, _ = sso.add_idp(label, f"{label}.example")
    wait_until(lambda: accepted_now(sso.gw, idp, unique("warm")), timeout=15, every=0.2,
               what=f"IdP {idp.name} usable")
    assert idp.jwks_fetches() >= 1
    time.sleep(COOL_DOWN + 1)
    return idp


def test_key_rotation_is_accepted_after_exactly_one_jwks_fetch(sso):
    idp = fresh_idp_past_cool_down(sso, "rotating")
    old_key = idp.keys[0]
    new_key = idp.restart(rotate=True)  # the fetch counter starts again at 0
    assert new_key.kid != old_key.kid and idp.jwks_fetches() == 0

    r = sso.gw.post_messages(idp.mint(idp.claims(unique("after-rotation"))))
    assert r.status_code == 200, r.text
    assert idp.jwks_fetches() == 1
    # Cached now: more tokens under the new kid and the old (still published) one cost nothing.
    for key in (new_key, old_key, new_key):
        r = sso.gw.post_messages(idp.mint(idp.claims(unique("cached")), key=key))
        assert r.status_code == 200, r.text
    assert idp.jwks_fetches() == 1


def test_random_kid_flood_costs_the_idp_a_bounded_number_of_fetches(sso):
    idp = fresh_idp_past_cool_down(sso, "flooded")
    before = idp.jwks_fetches()
    claims = idp.claims(unique("flood"))
    tokens = [idp.mint(claims, kid="random-" + uuid.uuid4().hex) for _ in range(200)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(lambda t: sso.gw.post_messages(t, timeout=30).status_code,
                                 tokens))
    assert statuses == [401] * len(tokens)
    fetched = idp.jwks_fetches() - before
    # One refetch for the first unknown kid (the others wait for it or meet the cool-down);
    # a second only if the flood outlasted the cool-down.
    print(f"flood: {fetched} JWKS fetches for 200 random kids")
    assert 1 <= fetched <= 2, f"{fetched} JWKS fetches for 200 random kids"
    # The real key still works, without another fetch.
    assert sso.gw.post_messages(idp.mint(idp.claims(unique("after-flood")))).status_code == 200
    assert idp.jwks_fetches() - before == fetched


# ---------------------------------------------------------------------------------------------
# IdPs changed through the API


@pytest.mark.parametrize("change", ["disable", "delete"])
def test_tokens_of_a_disabled_or_deleted_idp_are_refused(sso, change):
    idp, idp_id = sso.add_idp(f"leaving-{change}", "leaving.example")
    login = unique("member")
    wait_until(lambda: accepted_now(sso.gw, idp, login), timeout=15, every=0.2,
               what=f"IdP {idp.name} usable")
    if change == "disable":
        sso.gw.call("PATCH", f"/admin/idps/{idp_id}", sso.gw.admin, json={"enabled": False})
    else:
        assert sso.gw.call("DELETE", f"/admin/idps/{idp_id}", sso.gw.admin) == {"deleted": True}
    token = idp.mint(idp.claims(login))
    r = wait_until(lambda: (r := sso.gw.post_messages(token)).status_code != 200 and r,
                   what=f"IdP {change} applied")
    assert_refused(r)
    # The person stays (an admin deactivates people, not IdPs).
    assert user_by_subject(sso.gw, f"{login}@{idp.issuer}")


def test_discovery_must_name_exactly_the_configured_issuer(sso):
    """An IdP configured as `<issuer>/` whose discovery document says `<issuer>`: its tokens
    (even with `iss` = the configured string) are refused, and its keys are never fetched. The
    gateway answers 503 naming the mismatch (its IdP configuration is broken, not the token)."""
    idp = Idp(sso.workdir, unique("slashed"), audience="api://slashed", client_id="slashed",
              domain="slashed.example").start()
    sso.extra.append(idp)
    configured = idp.issuer + "/"
    sso.gw.call("POST", "/admin/idps", sso.gw.admin, 201,
                json=idp.admin_body(issuer_url=configured))
    token = idp.mint(idp.claims(unique("slash"), iss=configured))
    deadline = time.monotonic() + 3  # long enough for the change feed to bring the IdP
    while time.monotonic() < deadline:
        r = sso.gw.post_messages(token)
        if r.status_code == 503:
            assert "discovery document names the issuer" in assert_refused(r, 503)["message"]
        else:
            assert_refused(r)  # before the gateway knows the IdP: an unknown issuer
        time.sleep(0.2)
    assert r.status_code == 503, r.text
    assert idp.jwks_fetches() == 0
