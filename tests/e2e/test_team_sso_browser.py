"""Portal single sign-on in headless Chromium (Debian's, through playwright-core): open /portal,
click the IdP's button, sign in at the real IdP (oidc-provider's login and consent pages), land
on /portal "Signed in as …" with an HttpOnly, SameSite=Lax session cookie; then sign out.
Both IdPs of the `sso` fixture (the one from OIDC_*, the one from POST /admin/idps)."""

from __future__ import annotations

import uuid

import pytest

from idp_harness import run_node


@pytest.mark.parametrize("which", ["env", "admin"])
def test_portal_sso_in_chromium(sso, which):
    idp = sso.idp(which)
    login = f"portal-{uuid.uuid4().hex[:8]}"
    out = run_node("portal_sso.mjs", sso.gw.url, idp.name, login)

    assert out["url"] == sso.gw.url + "/portal", out
    assert "Signed in as" in out["text"] and idp.email_of(login) in out["text"], out["text"]
    cookies = {c["name"]: c for c in out["cookies"]}
    session = cookies.get("conduit_session")
    assert session, out["cookies"]
    # Plain HTTP on loopback here, so no Secure flag; HttpOnly and SameSite=Lax always.
    assert (session["httpOnly"], session["sameSite"], session["secure"], session["path"]) == \
        (True, "Lax", False, "/"), session
    if "conduit_flow" in cookies:
        assert (cookies["conduit_flow"]["httpOnly"], cookies["conduit_flow"]["sameSite"]) == \
            (True, "Lax"), cookies["conduit_flow"]

    users = [u for u in sso.gw.list_users() if u["subject"] == f"{login}@{idp.issuer}"]
    assert len(users) == 1 and users[0]["email"] == idp.email_of(login), users

    # Sign out: the sign-in page again, and the session cookie gone.
    assert f"Sign in with {idp.name}" in out["after_logout"], out["after_logout"]
    assert "Signed in as" not in out["after_logout"]
    assert "conduit_session" not in {c["name"] for c in out["cookies_after_logout"]}
