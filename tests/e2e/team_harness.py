"""Harness for the team-gateway tests: `conduit serve --team` as a real process, on SQLite or on
a fresh Postgres database, with the simulator's Anthropic API face as its one upstream.

- `TeamGateway`: one running instance, its `CONDUIT_HOME`, and admin helpers over httpx
  (`login`, `create_team`, `create_user`, `create_key`, `revoke_key`, `set_active`, ...), plus
  `anthropic(key)` / `openai(key)` clients through a virtual key and `post_messages(token)`
  (a bearer's `POST /v1/messages` on a connection of its own).
- `team_gateway` fixture: a factory `start(engine="sqlite"|"postgres", db=None, env=None)`;
  instances started with the same `db` (a `PgDatabase`) share one Postgres database.
- `pg_db` fixture: a fresh database `conduit_e2e_<hex>` on `$CONDUIT_TEST_PG_URL` (default
  `postgres://postgres@127.0.0.1:5432/postgres`), dropped at teardown (psql, no Python driver).
- `PgCluster`: a throwaway Postgres cluster (`scripts/postgres.sh throwaway`) that a test may
  stop and start again.
- `stored_files(*gws)` + `secrets_in(paths, secrets)`: what the gateways wrote (files, logs, a
  pg_dump of their Postgres database) and which secrets occur in it; `unique(prefix)`: a fresh
  name.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anthropic
import httpx
import openai
import pytest

from conftest import ANTHROPIC_TEST_API_KEY, CONDUIT_BIN, ROOT, START_TIMEOUT, Proc, _require

PG_URL = os.environ.get("CONDUIT_TEST_PG_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
ADMIN_PASSWORD = "e2e-admin-" + uuid.uuid4().hex
MODEL = "claude-sonnet-4-6"
# A small Messages request, for calls whose status is what counts.
MESSAGES_BODY = {"model": MODEL, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}

# The simulator's Anthropic Messages API face, the gateway's only upstream.
UPSTREAM_CONFIG = """
[[upstreams]]
name = "anthropic"
kind = "anthropic"
base_url = "{sim}/anthropic"
api_key_env = "ANTHROPIC_TEST_KEY"
"""


# ---------------------------------------------------------------------------------------------
# Postgres


def psql(url: str, sql: str) -> str:
    """Run one statement with psql; its unaligned output."""
    r = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtX", "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql {sql!r} failed: {r.stderr.strip()}")
    return r.stdout


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class PgDatabase:
    """A database of its own on a Postgres server, dropped by `drop()`."""

    def __init__(self, server_url: str = PG_URL):
        self.server_url = server_url
        self.name = f"conduit_e2e_{uuid.uuid4().hex[:16]}"
        psql(server_url, f'CREATE DATABASE "{self.name}"')
        self.url = with_database(server_url, self.name)

    def query(self, sql: str) -> str:
        return psql(self.url, sql)

    def drop(self) -> None:
        psql(self.server_url, f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def pg_reachable(url: str = PG_URL) -> bool:
    try:
        psql(url, "SELECT 1")
        return True
    except (RuntimeError, OSError, subprocess.TimeoutExpired):
        return False


class PgCluster:
    """A throwaway Postgres cluster (scripts/postgres.sh throwaway: Debian's server binaries as
    user `postgres`, trust auth, 127.0.0.1 and a free port) that a test may `stop()` and
    `start()` again any number of times; `destroy()` removes it."""

    SCRIPT = ROOT / "scripts" / "postgres.sh"

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="conduit-e2e-pg-"))
        self.url = self._run("throwaway").strip()

    def _run(self, command: str) -> str:
        r = subprocess.run(["bash", str(self.SCRIPT), command, str(self.dir)], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise RuntimeError(f"postgres.sh {command} failed ({r.returncode}): {r.stderr}")
        return r.stdout

    def start(self) -> None:
        self._run("start")

    def stop(self) -> None:
        self._run("stop")

    def destroy(self) -> None:
        try:
            self._run("remove")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The gateway


class ApiError(AssertionError):
    pass


class TeamGateway:
    """One `conduit serve --team` process and an httpx client on it."""

    def __init__(self, url: str, home: Path, proc: Proc, engine: str, db: PgDatabase | None,
                 ca: Path | None = None):
        self.url = url
        self.home = home
        self.proc = proc
        self.engine = engine
        self.db = db
        # HTTPS: trust exactly the gateway's own (self-signed) certificate.
        self.verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca)) if ca else True
        self.http = httpx.Client(base_url=url, timeout=15, verify=self.verify)
        # Each request on a connection of its own (`Connection: close`): after a refusal sent
        # before the body was read the gateway closes the connection, and a pooled one reused
        # right after could meet that close.
        self.fresh = httpx.Client(base_url=url, timeout=15, verify=self.verify,
                                  headers={"connection": "close"})
        self._admin_token: str | None = None
        self.stopped = False

    @property
    def conduit_home(self) -> Path:
        return self.home / "conduit"

    # -- raw calls

    def request(self, method: str, path: str, token: str | None = None, **kw) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, path, headers=headers, **kw)

    def call(self, method: str, path: str, token: str | None = None, expect: int = 200,
             **kw) -> dict:
        """A call that must answer `expect`; its JSON body."""
        r = self.request(method, path, token=token, **kw)
        if r.status_code != expect:
            raise ApiError(f"{method} {path}: expected {expect}, got {r.status_code} {r.text}")
        return r.json() if r.content else {}

    # -- auth

    def login(self, username: str, password: str) -> dict:
        return self.call("POST", "/auth/login", json={"username": username, "password": password})

    @property
    def admin(self) -> str:
        """The bootstrap admin's session token (logged in once per instance)."""
        if self._admin_token is None:
            self._admin_token = self.login("admin", ADMIN_PASSWORD)["token"]
        return self._admin_token

    # -- admin helpers (as the bootstrap admin unless `token` says otherwise)

    def create_team(self, name: str, token: str | None = None) -> dict:
        return self.call("POST", "/admin/teams", token or self.admin, 201, json={"name": name})

    def create_user(self, subject: str, role: str = "member", password: str | None = None,
                    team_id: str | None = None, token: str | None = None, **extra) -> dict:
        body = {"subject": subject, "role": role, **extra}
        if password is not None:
            body["password"] = password
        if team_id is not None:
            body["team_id"] = team_id
        return self.call("POST", "/admin/users", token or self.admin, 201, json=body)

    def create_key(self, name: str, token: str | None = None, **fields) -> dict:
        return self.call("POST", "/admin/keys", token or self.admin, 201,
                         json={"name": name, **fields})

    def list_keys(self, token: str | None = None) -> list[dict]:
        return self.call("GET", "/admin/keys", token or self.admin)["keys"]

    def list_users(self, token: str | None = None) -> list[dict]:
        return self.call("GET", "/admin/users", token or self.admin)["users"]

    def list_teams(self, token: str | None = None) -> list[dict]:
        return self.call("GET", "/admin/teams", token or self.admin)["teams"]

    def revoke_key(self, key_id: str, token: str | None = None) -> dict:
        return self.call("POST", f"/admin/keys/{key_id}/revoke", token or self.admin)

    def set_active(self, user_id: str, active: bool, token: str | None = None) -> dict:
        return self.call("PATCH", f"/admin/users/{user_id}", token or self.admin,
                         json={"active": active})

    def set_team(self, user_id: str, team_id: str | None, token: str | None = None) -> dict:
        return self.call("PUT", f"/admin/users/{user_id}/team", token or self.admin,
                         json={"team_id": team_id})

    def readyz(self) -> httpx.Response:
        return self.http.get("/readyz")

    # -- clients through a credential

    def anthropic(self, key: str, **kw) -> anthropic.Anthropic:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 60.0)
        if self.verify is not True:
            kw.setdefault("http_client", anthropic.DefaultHttpxClient(verify=self.verify))
        return anthropic.Anthropic(base_url=self.url, api_key=key, **kw)

    def openai(self, key: str, **kw) -> openai.OpenAI:
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 60.0)
        if self.verify is not True:
            kw.setdefault("http_client", openai.DefaultHttpxClient(verify=self.verify))
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, **kw)

    def post_messages(self, token: str, body: dict | None = None,
                      timeout: float = 15) -> httpx.Response:
        """`POST /v1/messages` with `token` as bearer (`body`, else MESSAGES_BODY), on a
        connection of its own."""
        return self.fresh.post("/v1/messages", json=MESSAGES_BODY if body is None else body,
                               timeout=timeout, headers={"authorization": f"Bearer {token}",
                                                         "anthropic-version": "2023-06-01"})

    def models_status(self, key: str, timeout: float = 5.0) -> int:
        """Status of a cheap authenticated call (`GET /v1/models`) with `key`."""
        return self.http.get("/v1/models", headers={"x-api-key": key, "anthropic-version":
                                                    "2023-06-01"}, timeout=timeout).status_code

    # -- files

    def files(self) -> list[Path]:
        """Every file under this instance's CONDUIT_HOME, and its own process log."""
        out = [p for p in self.home.rglob("*") if p.is_file()]
        out.append(self.proc.log_path)
        return out

    def access_line(self, credential_id: str) -> str:
        """The first `/v1/` access line that names `credential_id` ("" when none does)."""
        log = "".join(p.read_text(errors="replace") for p in self.files() if "log" in p.name)
        return next((ln for ln in log.splitlines() if credential_id in ln and "/v1/" in ln), "")

    def stop(self) -> None:
        """Stop the process (idempotent)."""
        self.http.close()
        self.fresh.close()
        if not self.stopped:
            self.stopped = True
            self.proc.stop()


def start_team_gateway(sim, workdir: Path, engine: str = "sqlite", db: PgDatabase | None = None,
                       env: dict[str, str] | None = None, ready: bool = True,
                       tls: tuple[Path, Path] | None = None) -> TeamGateway:
    """Start `conduit serve --team --port 0` with the simulator's Anthropic API face upstream;
    over HTTPS with `tls` = (certificate, key) PEM files."""
    _require(CONDUIT_BIN)
    home = Path(tempfile.mkdtemp(prefix="team-", dir=workdir))
    (home / "home").mkdir()
    config = home / "conduit.toml"
    config.write_text(UPSTREAM_CONFIG.replace("{sim}", sim.url))
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home / "home"),
        "CONDUIT_HOME": str(home / "conduit"),
        "CONDUIT_CONFIG": str(config),
        "CONDUIT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "ANTHROPIC_TEST_KEY": ANTHROPIC_TEST_API_KEY,
        "CONDUIT_PING_INTERVAL_MS": "500",
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        "RUST_BACKTRACE": "1",
        "NO_COLOR": "1",
        **(env or {}),
    }
    if engine == "postgres":
        assert db is not None, "a Postgres gateway needs a database"
        full_env["DATABASE_URL"] = db.url
    argv = [str(CONDUIT_BIN), "serve", "--team", "--port", "0"]
    if tls:
        argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
    proc = Proc(f"conduit-team-{home.name}", argv, full_env, home)
    port = proc.wait_for_file(home / "conduit" / "run" / "port")
    scheme = "https" if tls else "http"
    gw = TeamGateway(f"{scheme}://127.0.0.1:{port}", home, proc, engine, db,
                     ca=tls[0] if tls else None)
    if ready:
        wait_ready(gw)
    return gw


def wait_ready(gw: TeamGateway, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            r = gw.readyz()
            if r.status_code == 200:
                return
            last = f"{r.status_code} {r.text}"
        except httpx.TransportError as e:
            last = repr(e)
        if gw.proc.popen.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{gw.proc.name} not ready at {gw.url} ({last}):\n{gw.proc.output()}")


def wait_until(cond, timeout: float = 10.0, every: float = 0.05, what: str = "condition"):
    """Poll `cond()` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s (last: {v!r})")
        time.sleep(every)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------------------
# Secrets at rest


def stored_files(*gws: TeamGateway) -> list[Path]:
    """Every file of each gateway (`TeamGateway.files`), and a data-only pg_dump of the first
    one's database when it runs on Postgres (instances on one store share it)."""
    paths = [p for gw in gws for p in gw.files()]
    if gws[0].db is not None:
        dump = gws[0].home / "pg_dump.sql"
        subprocess.run(["pg_dump", "--data-only", gws[0].db.url, "-f", str(dump)], check=True,
                       timeout=60)
        paths.append(dump)
    return paths


def secrets_in(paths, secrets: dict[str, str]) -> list[str]:
    """Which of `secrets` (label → value; empty values skipped) occur in which of `paths`."""
    found = []
    for p in paths:
        try:
            data = p.read_bytes()
        except OSError:
            continue
        found += [f"{label} in {p}" for label, s in secrets.items() if s and s.encode() in data]
    return found


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def pg_db():
    """A fresh database on the test Postgres server, dropped at teardown."""
    if not pg_reachable():
        pytest.fail(f"Postgres not reachable at {PG_URL} (scripts/test.sh starts one; "
                    "or set CONDUIT_TEST_PG_URL)")
    db = PgDatabase()
    yield db
    db.drop()


@pytest.fixture
def team_gateway(sim, workdir):
    """Factory: `start(engine, db=None, env=None)`; every instance is stopped at teardown, and
    the databases it created are dropped."""
    started: list[TeamGateway] = []
    created: list[PgDatabase] = []

    def start(engine: str = "sqlite", db: PgDatabase | None = None,
              env: dict[str, str] | None = None,
              tls: tuple[Path, Path] | None = None) -> TeamGateway:
        if engine == "postgres" and db is None:
            if not pg_reachable():
                pytest.fail(f"Postgres not reachable at {PG_URL}")
            db = PgDatabase()
            created.append(db)
        gw = start_team_gateway(sim, workdir, engine, db, env, tls=tls)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()
    for db in created:
        db.drop()
