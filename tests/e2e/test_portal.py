"""The team gateway's web portal (issue 15) in headless Chromium (Debian's, through
playwright-core), driven step by step from here (tests/e2e/node/portal_driver.mjs) so that a
story can use a key the page just showed with the real anthropic SDK, and check the store
through the admin API. One gateway for the module (`start_sso`: two real IdPs, ledger flushed
every 200 ms). docs/portal-design.md-style contract: /tmp/portal-design.md.

- Admin story: password sign-in; create a team, a user in it, a key for that user (the secret
  read from `#new-key`); the SDK gets an answer with it; the request shows on Spend (Top users:
  the user, 1 request); a monthly budget for the user is listed; discovery of an IdP; Connect
  Claude Code's snippets; Revoke on Keys, and the SDK's next call is a 401; the audit log has
  every step. With SCREENSHOT_DIR (else a temporary directory) a full-page PNG of every page
  (scripts/portal-screenshots.sh writes docs/portal/ this way).
- Member story: sign-in through the IdP (auto-provisioned member): only their own identity,
  keys and spend; no admin navigation; 403 `Forbidden` on admin pages typed by hand and on admin
  POSTs that carry the member's valid CSRF token (the same token creates the member's own key,
  so the refusals are about the role, not the token).
- Refusals: forms without (or with a wrong) CSRF token → 403 `CSRF check failed`; names made of
  markup render as inert text (no dialog, no injected element); the portal refuses to be framed
  (Chromium shows no portal in the frame; the headers checked with httpx).
- Accessibility: every visible field of every page has a label; Keys → Create key by keyboard
  alone.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import threading
from pathlib import Path

import anthropic
import httpx
import pytest

from idp_harness import CHROMIUM, NODE_DIR, start_sso, stop_sso
from team_harness import ADMIN_PASSWORD, MODEL, unique, wait_until

SMALL = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
STEP_TIMEOUT = 60.0
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

MEMBER_NAV = {"Overview": "/portal", "Keys": "/portal/keys", "Spend": "/portal/spend",
              "Connect Claude Code": "/portal/connect"}
READER_NAV = {**MEMBER_NAV, "Users": "/portal/users", "Teams": "/portal/teams",
              "Identity providers": "/portal/idps", "Budgets and limits": "/portal/budgets",
              "Audit log": "/portal/audit"}
ADMIN_PAGES = ["/portal/users", "/portal/teams", "/portal/idps", "/portal/budgets",
               "/portal/audit"]
# The pages the admin story photographs, in the order it visits them.
SHOTS = ["sign-in", "overview", "teams", "users", "key-created", "spend", "budgets", "idps",
         "discovery", "connect", "keys", "audit"]
# Headers every portal page carries (the contract's; CSP checked by its directives).
PAGE_HEADERS = {"x-frame-options": "DENY", "cache-control": "no-store",
                "referrer-policy": "no-referrer", "x-content-type-options": "nosniff"}
# (A page without a script-src falls back to default-src 'none': stricter still.)
CSP_DIRECTIVES = ["default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]


# ---------------------------------------------------------------------------------------------
# The browser


class Browser:
    """One person's Chromium (portal_driver.mjs): `b(cmd, **args)` runs one step and answers its
    result; a page-loading step answers the page as the driver sees it (url, http_status, h1,
    status and alert messages, text, nav links, tables, figures, unlabelled fields, dialogs)."""

    def __init__(self, gateway: str, log: Path, env: dict[str, str] | None = None):
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} not found: run scripts/setup-e2e.sh")
        self.log = log
        self._err = open(log, "w")
        self.proc = subprocess.Popen(
            ["node", str(NODE_DIR / "portal_driver.mjs"), gateway], cwd=NODE_DIR,
            env={**os.environ, "CHROMIUM": CHROMIUM, **(env or {})}, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._err, text=True, bufsize=1)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def __call__(self, cmd: str, **args):
        try:
            self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AssertionError(f"the browser is gone:\n{self.stderr()}") from None
        try:
            line = self._lines.get(timeout=STEP_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"{cmd} {args}: no answer in {STEP_TIMEOUT} s\n{self.stderr()}") \
                from None
        if line is None:
            raise AssertionError(f"{cmd} {args}: the browser exited\n{self.stderr()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise AssertionError(f"browser step {cmd} {args} failed: {reply['error']}\n"
                                 f"page: {reply.get('page')}")
        return reply["result"]

    def stderr(self) -> str:
        self._err.flush()
        return self.log.read_text(errors="replace")[-5000:]

    # The steps by name.
    def goto(self, path: str) -> dict:
        return self("goto", path=path)

    def fill(self, label: str, value: str, within: str | None = None) -> None:
        self("fill", label=label, value=value, **({"within": within} if within else {}))

    def select(self, label: str, option: str, within: str | None = None) -> None:
        self("select", label=label, option=option, **({"within": within} if within else {}))

    def click(self, name: str, **kw) -> dict:
        return self("click", name=name, **kw)

    def dom(self, selector: str) -> list[dict]:
        return self("dom", selector=selector)

    def shot(self, name: str) -> None:
        self("shot", name=name)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self("quit")
            except AssertionError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._err.close()


@pytest.fixture(scope="module")
def portal(sim, workdir):
    """This module's gateway and IdPs (idp_harness.start_sso), the ledger flushed every 200 ms
    so that Spend shows a request within a moment."""
    s = start_sso(sim, workdir, env={"SPEND_FLUSH_MS": "200"})
    yield s
    stop_sso(s)


@pytest.fixture
def browser(portal, tmp_path):
    """Factory: `browser(env=None)` opens one more Chromium on the module's gateway."""
    opened: list[Browser] = []

    def open_browser(env: dict[str, str] | None = None) -> Browser:
        b = Browser(portal.gw.url, tmp_path / f"browser-{len(opened)}.log", env)
        opened.append(b)
        return b

    yield open_browser
    for b in opened:
        b.close()


# ---------------------------------------------------------------------------------------------
# Reading pages


def sign_in(b: Browser, username: str = "admin", password: str = ADMIN_PASSWORD) -> dict:
    """The password form of /portal; the page after it."""
    p = b.goto("/portal")
    assert p["http_status"] == 200, p
    b.fill("Username", username)
    b.fill("Password", password)
    return b.click("Sign in")


def table(page: dict, context: str) -> dict:
    """The table whose caption, figure caption or heading before it contains `context`."""
    found = [t for t in page["tables"] if context in t["context"]]
    assert found, f"no table under {context!r} on {page['url']}: " \
                  f"{[t['context'] for t in page['tables']]}"
    return found[0]


def rows_with(t: dict, text: str) -> list[list[str]]:
    return [r for r in t["rows"] if any(text == c for c in r)]


def column(t: dict, header: str) -> list[str]:
    i = t["headers"].index(header)
    return [r[i] for r in t["rows"] if len(r) > i]


def nav(page: dict) -> dict[str, str]:
    return {a["text"]: a["href"] for a in page["nav"]}


def csp_violations(page: dict) -> list[str]:
    return [e for e in page["console_errors"] if "Content Security Policy" in e]


def requests_total(page: dict) -> int | None:
    """The `{n} requests, ${cost}` line of the Spend page."""
    m = re.search(r"([\d,]+) requests?, \$", page["text"])
    return int(m.group(1).replace(",", "")) if m else None


def png_ok(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def http_session(gw, username: str, password: str) -> httpx.Client:
    """An httpx client signed in to the portal with the password form (its CSRF token read
    from the page)."""
    http = httpx.Client(base_url=gw.url, timeout=15)
    page = http.get("/portal")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    r = http.post("/portal/login", data={"username": username, "password": password,
                                         "csrf": csrf.group(1)})
    assert r.status_code == 303 and "conduit_session" in http.cookies, (r.status_code, r.text)
    return http


# ---------------------------------------------------------------------------------------------
# The stories


def test_admin_story(portal, browser, tmp_path):
    gw = portal.gw
    shots = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "shots").resolve()
    b = browser(env={"SCREENSHOT_DIR": str(shots)})
    pages: dict[str, dict] = {}

    def seen(name: str, page: dict) -> dict:
        pages[name] = page
        b.shot(name)
        return page

    # Sign in with the password form.
    p = seen("sign-in", b.goto("/portal"))
    assert p["http_status"] == 200 and f"Sign in with {portal.env_idp.name}" in p["text"], p
    p = seen("overview", sign_in(b))
    assert p["url"] == gw.url + "/portal" and p["h1"] == ["Overview"], p
    assert "Signed in as admin (admin)." in p["text"], p["text"]
    assert nav(p) == READER_NAV, p["nav"]

    # A team.
    team = unique("portal-team")
    b.goto("/portal/teams")
    b.fill("Team name", team)
    p = seen("teams", b.click("Create team"))
    assert "Team created." in p["status"] and p["url"].startswith(gw.url + "/portal/teams"), p
    assert rows_with(table(p, ""), team), p["tables"]
    team_id = next(t["id"] for t in gw.list_teams() if t["name"] == team)

    # A user in that team.
    subject = unique("portal-user")
    b.goto("/portal/users")
    b.fill("Username or email", subject)
    b.select("Role", "member")
    b.select("Team", team)
    p = seen("users", b.click("Create user"))
    assert "User created." in p["status"], p
    row = rows_with(table(p, ""), subject)
    assert row and "member" in row[0] and team in row[0], row
    user = next(u for u in gw.list_users() if u["subject"] == subject)
    assert (user["role"], user["team_id"]) == ("member", team_id), user

    # A key for that user: the secret shown once.
    key_name = unique("portal-key")
    b.goto("/portal/keys")
    b.fill("Key name", key_name)
    b.select("Owner", subject)
    p = seen("key-created", b.click("Create key"))
    assert p["h1"] == ["Key created"], p
    assert "This is the only time the key is shown." in p["text"], p["text"]
    secret = b.dom("#new-key")[0]["text"].strip()
    assert secret.startswith("sk-proxy-"), secret
    copy = b.dom('button[data-copy="new-key"]')
    assert [(c["attrs"].get("type"), c["text"].strip()) for c in copy] == [("button", "Copy")], copy
    key = next(k for k in gw.list_keys() if k["name"] == key_name)
    assert key["user_id"] == user["id"] and secret.startswith(key["prefix"].rstrip(".")), key

    # The key works with the anthropic SDK.
    reply = gw.anthropic(secret).messages.create(**SMALL)
    assert reply.content and reply.content[0].text, reply

    # Spend shows the request: the user in Top users with one request (once the ledger flushed).
    def top_users_row():
        page = b.goto("/portal/spend")
        found = [r for t in page["tables"] if "Top users" in t["context"]
                 for r in rows_with(t, subject)]
        return (page, found[0]) if found else None

    p, row = wait_until(top_users_row, timeout=20, every=0.5, what=f"{subject} in Top users")
    seen("spend", p)
    assert "1" in row[1:], row
    captions = [f["caption"] for f in p["figures"]]
    assert any("Daily cost by model" in c for c in captions), captions
    assert any("Top users" in c for c in captions) and any("Top teams" in c for c in captions), \
        captions
    svgs = [s for f in p["figures"] for s in f["svgs"]]
    assert svgs and all(s["role"] == "img" and s["label"] for s in svgs), svgs
    csv_link = [a for a in b.dom("a") if a["text"].strip() == "Download CSV"]
    assert csv_link and csv_link[0]["attrs"]["href"].startswith("/portal/spend.csv"), csv_link
    href = csv_link[0]["attrs"]["href"]
    csv = b("fetch", path=href + ("&" if "?" in href else "?") + "group_by=user")
    assert csv["status"] == 200 and csv["headers"]["content-type"].startswith("text/csv"), csv
    assert "attachment" in csv["headers"].get("content-disposition", ""), csv["headers"]
    assert subject in csv["text"], csv["text"][:2000]

    # A monthly budget of $100 for the user, listed under Spend limits.
    budget_form = 'form[action="/portal/budgets"]'
    b.goto("/portal/budgets")
    b.select("Scope", "user", within=budget_form)
    b.fill("Applies to", subject, within=budget_form)
    b.select("Period", "monthly", within=budget_form)
    b.fill("Limit (USD)", "100", within=budget_form)
    p = seen("budgets", b.click("Set budget"))
    assert p["url"].startswith(gw.url + "/portal/budgets") and p["alert"] == [], p
    assert p["status"], p  # the saved notice
    limits = table(p, "Spend limits")
    row = [r for r in limits["rows"] if r[:3] == ["user", subject, "monthly"]]
    assert row and "100.00" in row[0][3], limits
    # In force for the key's owner.
    def monthly_cap():
        me = gw.call("GET", "/me/spend", token=secret)
        return [c for c in me["limits"] if c["period"] == "monthly"
                and float(c["limit_usd"]) == 100.0]

    wait_until(monthly_cap, timeout=10, every=0.2, what="the $100 monthly cap in /me/spend")

    # Identity providers (no secret on the page) and discovery of one.
    p = seen("idps", b.goto("/portal/idps"))
    idps = table(p, "")
    for idp in portal.idps():
        assert rows_with(idps, idp.name), idps
        assert idp.client_secret not in p["text"]
    assert "set" in column(idps, "Client secret"), idps
    b.fill("Issuer URL", portal.admin_idp.issuer)
    p = seen("discovery", b.click("Test discovery", last=True))
    assert p["h1"] == ["Discovery"] and p["alert"] == [], p
    dts = [d["text"].strip() for d in b.dom("main dl dt")]
    dds = [d["text"].strip() for d in b.dom("main dl dd")]
    found = dict(zip(dts, dds))
    assert found.get("Issuer") == portal.admin_idp.issuer, found
    assert found.get("Token endpoint", "").startswith(portal.admin_idp.issuer), found
    assert found.get("JWKS URI", "").startswith(portal.admin_idp.issuer), found
    assert re.match(r"[1-9]", found.get("Signing keys", "")), found

    # Connect Claude Code: the three snippets, each with a Copy button.
    p = seen("connect", b.goto("/portal/connect"))
    assert p["h1"] == ["Connect Claude Code"], p
    snippets = {c["attrs"]["id"]: c["text"] for c in b.dom("pre code[id]")}
    assert {"settings", "login", "script"} <= set(snippets), snippets
    assert "apiKeyHelper" in snippets["settings"] and "ANTHROPIC_BASE_URL" in snippets["settings"]
    assert gw.url in snippets["settings"], snippets["settings"]
    assert snippets["login"].strip() == f"conduit token login --gateway {gw.url}", snippets
    assert snippets["script"].strip() == f"curl -fsSL {gw.url}/auth/setup | sh", snippets
    copies = {c["attrs"].get("data-copy") for c in b.dom("button[data-copy]")}
    assert {"settings", "login", "script"} <= copies, copies

    # Keys: every key with its owner; Revoke, and the SDK's next call is refused.
    p = seen("keys", b.goto("/portal/keys"))
    keys = table(p, "")
    assert "Owner" in keys["headers"], keys
    row = rows_with(keys, key_name)
    assert row and subject in row[0] and "active" in row[0], row
    p = b.click("Revoke", exact=False, row=key_name)
    assert "Key revoked." in p["status"] and p["url"].startswith(gw.url + "/portal/keys"), p
    row = rows_with(table(p, ""), key_name)
    assert row and "revoked" in row[0], row
    with pytest.raises(anthropic.AuthenticationError):
        gw.anthropic(secret).messages.create(**SMALL)

    # The audit log has each step.
    p = seen("audit", b.goto("/portal/audit"))
    audit = table(p, "")
    actions = set(column(audit, "Action"))
    assert {"team.create", "user.create", "key.create", "spend_limit.upsert",
            "key.revoke"} <= actions, actions
    assert any("admin" in a for a in column(audit, "Actor")), audit

    # No page had its own code blocked by the CSP (it has none inline).
    assert not [(n, csp_violations(pg)) for n, pg in pages.items() if csp_violations(pg)]
    # The screenshots.
    assert set(SHOTS) <= set(pages), pages.keys()
    bad = [n for n in SHOTS if not png_ok(shots / f"{n}.png")]
    assert not bad, f"missing or empty screenshots in {shots}: {bad}"


def test_member_story(portal, browser):
    gw = portal.gw
    idp = portal.env_idp
    login = unique("member")
    # Someone else, with a key and two requests of their own.
    other = gw.create_user(unique("other"))
    other_key = gw.create_key(unique("other-key"), user_id=other["id"])
    for _ in range(2):
        gw.anthropic(other_key["key"]).messages.create(**SMALL)

    b = browser()
    b.goto("/portal")
    p = b("sso", idp=idp.name, login=login)
    me = next(u for u in gw.list_users() if u["subject"] == f"{login}@{idp.issuer}")
    assert me["role"] == "member", me
    assert p["h1"] == ["Overview"], p
    assert f"Signed in as {idp.email_of(login)} (member)." in p["text"], p["text"]
    assert nav(p) == MEMBER_NAV, p["nav"]
    pages = {"overview": p}

    # My own key, made on the Keys page (no Owner choice for a member).
    p = b.goto("/portal/keys")
    assert b.dom('select[name="user_id"]') == [], "a member is offered an Owner select"
    key_name = unique("my-key")
    b.fill("Key name", key_name)
    p = pages["key-created"] = b.click("Create key")
    assert p["h1"] == ["Key created"], p
    secret = b.dom("#new-key")[0]["text"].strip()
    mine = next(k for k in gw.list_keys() if k["name"] == key_name)
    assert mine["user_id"] == me["id"], mine
    gw.anthropic(secret).messages.create(**SMALL)

    # Keys lists only mine, without an Owner column.
    p = pages["keys"] = b.goto("/portal/keys")
    keys = table(p, "")
    assert "Owner" not in keys["headers"], keys
    assert [r[0] for r in keys["rows"]] == [key_name], keys
    assert other_key["name"] not in p["text"] and other["subject"] not in p["text"]

    # Spend: my one request, whatever the filters say; no Top users or Top teams.
    def my_spend():
        page = b.goto("/portal/spend")
        return page if requests_total(page) == 1 else None

    p = pages["spend"] = wait_until(my_spend, timeout=20, every=0.5, what="1 request on Spend")
    captions = " ".join(f["caption"] for f in p["figures"]) + " ".join(
        s["label"] or "" for f in p["figures"] for s in f["svgs"])
    assert "Top users" not in captions and "Top teams" not in captions, p["figures"]
    assert not [t for t in p["tables"] if "Top users" in t["context"] or "Top teams" in t["context"]]
    assert other["subject"] not in p["text"], p["text"]
    p = b.goto(f"/portal/spend?user={other['subject']}")
    assert p["http_status"] == 200 and requests_total(p) == 1, p["text"]
    assert other["subject"] not in p["text"], p["text"]
    csv = b("fetch", path=f"/portal/spend.csv?user={other['subject']}&group_by=user")
    assert csv["status"] == 200 and me["subject"] in csv["text"], csv["text"][:2000]
    assert other["subject"] not in csv["text"], csv["text"][:2000]

    pages["connect"] = b.goto("/portal/connect")
    assert not [(n, pg["unlabelled"]) for n, pg in pages.items() if pg["unlabelled"]]

    # Admin pages typed by hand.
    for path in ADMIN_PAGES:
        p = b.goto(path)
        assert (p["http_status"], p["h1"]) == (403, ["Forbidden"]), (path, p)

    # Admin actions posted with my valid CSRF token: refused on the server.
    b.goto("/portal/keys")
    csrf = b("csrf")
    assert csrf
    refused = {
        "/portal/teams": {"name": unique("member-team")},
        "/portal/users": {"subject": unique("member-made"), "role": "admin"},
        f"/portal/users/{me['id']}": {"role": "admin", "team_id": ""},
        "/portal/budgets": {"scope_type": "user", "scope_id": me["subject"], "period": "monthly",
                            "amount_usd": "1000000"},
        "/portal/idps/test": {"issuer_url": idp.issuer},
    }
    for path, form in refused.items():
        r = b("post", path=path, form={"csrf": csrf, **form})
        assert r["status"] == 403 and r["h1"] == "Forbidden", (path, r["status"], r["text"][:500])
        assert "CSRF check failed" not in r["text"], (path, r["text"][:500])
    assert refused["/portal/teams"]["name"] not in [t["name"] for t in gw.list_teams()]
    users = {u["subject"]: u for u in gw.list_users()}
    assert refused["/portal/users"]["subject"] not in users
    assert users[me["subject"]]["role"] == "member", users[me["subject"]]
    # Someone else's key cannot be revoked (403, or 404 as for an unknown key), and still works.
    r = b("post", path=f"/portal/keys/{other_key['id']}/revoke", form={"csrf": csrf})
    assert r["status"] in (403, 404), (r["status"], r["text"][:500])
    assert gw.models_status(other_key["key"]) == 200
    # The same token does work for what a member may do, and an Owner field is ignored.
    theirs = unique("not-theirs")
    r = b("post", path="/portal/keys", form={"csrf": csrf, "name": theirs,
                                               "user_id": other["id"]})
    assert r["status"] == 200 and r["h1"] == "Key created", (r["status"], r["text"][:500])
    made = next(k for k in gw.list_keys() if k["name"] == theirs)
    assert made["user_id"] == me["id"], made


def test_refusals(portal, browser):
    gw = portal.gw
    script = "<script>alert(1)</script>"
    img = f"<img src=x onerror=alert(2)>{unique('t')}"
    team = gw.create_team(img)
    user = gw.create_user(script, team_id=team["id"])
    gw.create_key(f"<svg onload=alert(3)>{unique('k')}", user_id=user["id"])

    b = browser()
    assert sign_in(b)["h1"] == ["Overview"]

    # A form without the CSRF token, or with a wrong one, from a signed-in browser: refused.
    for form in ({"name": unique("no-csrf")}, {"name": unique("bad-csrf"), "csrf": "forged"}):
        r = b("post", path="/portal/teams", form=form)
        assert r["status"] == 403 and "CSRF check failed" in r["text"], (r["status"], r["text"])
    # The control: the same browser with the page's token is let through.
    fine = unique("with-csrf")
    r = b("post", path="/portal/teams", form={"name": fine, "csrf": b("csrf")})
    assert r["status"] == 303, (r["status"], r["text"][:500])
    names = [t["name"] for t in gw.list_teams()]
    assert fine in names and not [n for n in names if n.startswith(("no-csrf", "bad-csrf"))]

    # Markup in names is text: shown literally, nothing injected, no dialog.
    for path in ("/portal/users", "/portal/teams", "/portal/keys", "/portal/budgets"):
        p = b.goto(path)
        assert p["http_status"] == 200 and p["dialogs"] == [], (path, p["dialogs"])
        scripts = b.dom("script")
        assert all(s["attrs"].get("src", "").startswith("/portal/assets/") and not s["text"].strip()
                   for s in scripts), (path, scripts)
        assert b.dom("img[src='x'], [onerror], [onload]") == [], path
    p = b.goto(f"/portal/users?q={script}")
    assert script in p["text"] and img in p["text"], p["text"]
    row = rows_with(table(p, ""), script)
    assert row and img in row[0], row
    assert b.dom("img[src='x'], [onerror], [onload]") == []
    p = b.goto("/portal/keys")
    assert "<svg onload=alert(3)>" in p["text"] and b.dom("svg[onload]") == [], p["text"]
    assert b("info")["dialogs"] == []

    # The portal in a frame of another loopback origin: Chromium does not render it (the control
    # frame, a page of that origin without framing headers, shows that frames render and are
    # read here).
    frames = b("frame", src="/portal")
    assert frames["target"]["url"] != gw.url + "/portal" or frames["target"]["body"] == "", frames
    assert frames["control"]["body"] == "control frame", frames
    target = frames["target"]
    assert target["has_password_form"] is not True, frames
    assert "Sign in" not in (target["body"] or "") and "Username" not in (target["body"] or ""), \
        frames

    # The headers, signed out and signed in (httpx).
    http = httpx.Client(base_url=gw.url, timeout=15)
    signed_out = http.get("/portal")
    assert signed_out.status_code == 200
    assert http.get("/portal/keys").status_code == 303
    session = http_session(gw, "admin", ADMIN_PASSWORD)
    answers = {"/portal (signed out)": signed_out}
    try:
        for path in ["/portal", "/portal/keys", "/portal/spend", "/portal/connect", *ADMIN_PAGES]:
            answers[path] = session.get(path)
    finally:
        session.close()
        http.close()
    for path, r in answers.items():
        assert r.status_code == 200, (path, r.status_code)
        for name, value in PAGE_HEADERS.items():
            assert r.headers.get(name) == value, (path, name, r.headers.get(name))
        csp = r.headers.get("content-security-policy", "")
        missing = [d for d in CSP_DIRECTIVES if d not in csp]
        assert not missing and "unsafe-" not in csp, (path, csp)
        scripts = [d.strip() for d in csp.split(";") if d.strip().startswith("script-src")]
        assert scripts in ([], ["script-src 'self'"]), (path, csp)


def test_labels_on_every_page(portal, browser):
    """Every visible input, select and textarea of every portal page has a label (or an
    aria-label), for an admin (every page, and the pages answering a form) and a member."""
    unlabelled = {}
    b = browser()
    p = b.goto("/portal")
    unlabelled["sign-in"] = p["unlabelled"]
    p = sign_in(b)
    assert p["h1"] == ["Overview"], p
    for path in ["/portal", "/portal/keys", "/portal/spend", "/portal/connect", *ADMIN_PAGES]:
        p = b.goto(path)
        assert p["http_status"] == 200, (path, p["http_status"])
        unlabelled[path] = p["unlabelled"]
    b.goto("/portal/keys")
    b.fill("Key name", unique("labels"))
    p = b.click("Create key")
    assert p["h1"] == ["Key created"], p
    unlabelled["key created"] = p["unlabelled"]
    b.goto("/portal/idps")
    b.fill("Issuer URL", portal.env_idp.issuer)
    p = b.click("Test discovery", last=True)
    assert p["h1"] == ["Discovery"], p
    unlabelled["discovery"] = p["unlabelled"]
    # The check has fields to look at: the Users page alone has a dozen.
    b.goto("/portal/users")
    fields = b.dom("main input:not([type=hidden]), main select, main textarea")
    assert len(fields) >= 5, fields

    m = browser()
    m.goto("/portal")
    assert m("sso", idp=portal.env_idp.name, login=unique("labels"))["h1"] == ["Overview"]
    for path in ["/portal", "/portal/keys", "/portal/spend", "/portal/connect"]:
        unlabelled[f"member {path}"] = m.goto(path)["unlabelled"]
    assert not {k: v for k, v in unlabelled.items() if v}, unlabelled


def test_keyboard_creates_a_key(portal, browser):
    """From Overview to Key created with the keyboard alone: Tab to the Keys link, Enter, Tab to
    Key name, type, Enter."""
    b = browser()
    assert sign_in(b)["h1"] == ["Overview"]
    b.goto("/portal")
    reached = b("tab_to", name="Keys")
    assert reached["focused"]["tag"] == "a", reached
    p = b("press", key="Enter")
    assert p["url"] == portal.gw.url + "/portal/keys" and p["h1"] == ["Keys"], p
    reached = b("tab_to", name="Key name")
    assert reached["focused"]["tag"] == "input", reached
    name = unique("keyboard")
    b("type", text=name)
    p = b("press", key="Enter")
    assert p["h1"] == ["Key created"], p
    secret = b.dom("#new-key")[0]["text"].strip()
    assert secret.startswith("sk-proxy-")
    key = next(k for k in portal.gw.list_keys() if k["name"] == name)
    assert portal.gw.models_status(secret) == 200, key
