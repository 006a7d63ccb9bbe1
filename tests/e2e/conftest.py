"""Harness for the end-to-end tests: the Kiro simulator and the conduit gateway as real processes.

A test reads as a story: script the simulator (`sim.rule(...)`), talk to the gateway with a real
client (`gateway.anthropic()`, Claude Code), assert on the answer and on what the simulator saw
(`sim.chat_requests()`). Both processes log to files; when a test fails, what they wrote during
that test is attached to the report.

Binaries come from `target/debug` (or `$CARGO_TARGET_DIR/debug`); override with
`CONDUIT_BIN_DIR`, or per binary with `CONDUIT_BIN` / `CONDUIT_SIM_BIN`.

`Tmux` runs an interactive program (the real Claude Code) in a tmux pane of its own and drives
it screen by screen.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import anthropic
import httpx
import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN_DIR = Path(os.environ.get("CONDUIT_BIN_DIR", TARGET / "debug"))
CONDUIT_BIN = Path(os.environ.get("CONDUIT_BIN", BIN_DIR / "conduit"))
SIM_BIN = Path(os.environ.get("CONDUIT_SIM_BIN", BIN_DIR / "conduit-sim"))
PROFILE_ARN = "arn:aws:codewhisperer:us-east-1:123456789012:profile/E2ETESTPROFILE"
START_TIMEOUT = 30.0

# The SDKs read these from the environment; ambient values must not steer a test anywhere else.
for _var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
             "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
    os.environ.pop(_var, None)

# Every process the harness started, so a failing test can show their logs.
_PROCS: list["Proc"] = []


class Proc:
    """A child process whose stdout+stderr go to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], workdir: Path):
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.mark = 0
        _PROCS.append(self)

    def output(self, since: int = 0) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def size(self) -> int:
        return self.log_path.stat().st_size

    def wait_for_file(self, path: Path) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{self.output()}")
            if path.exists() and path.read_text().strip():
                return path.read_text().strip()
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not write {path} within {START_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        _PROCS.remove(self)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require(binary: Path) -> None:
    if not binary.is_file():
        pytest.exit(f"{binary} not found: run `cargo build -p conduit -p conduit-sim` first", returncode=2)


# ---------------------------------------------------------------------------------------------
# An interactive program in tmux


class Tmux:
    """One tmux server of our own (its own socket), with one pane running `argv` with exactly
    `env`. `join`: screens are captured with wrapped lines joined (`capture-pane -J`)."""

    def __init__(self, cwd, env: dict[str, str], argv: list[str], join: bool = False):
        self.socket = f"conduit-e2e-{uuid.uuid4().hex[:8]}"
        self.join = join
        self._tmux(*self._new_session(cwd, env, argv))

    @staticmethod
    def _new_session(cwd, env: dict[str, str], argv: list[str]) -> list[str]:
        """The `tmux new-session` arguments of the pane."""
        # tmux passes its own environment to the pane's command only through `env`.
        command = shlex.join(["env", "-i", *[f"{k}={v}" for k, v in env.items()], *argv])
        return ["new-session", "-d", "-s", "claude", "-x", "200", "-y", "50", "-c", str(cwd),
                command + "; sleep 600"]

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                              timeout=10)
        assert done.returncode == 0, f"tmux {args[0]}: {done.stderr}"
        return done.stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", *(["-J"] if self.join else []), "-t", "claude")

    def keys(self, *keys: str) -> None:
        for k in keys:
            self._tmux("send-keys", "-t", "claude", k)
            time.sleep(0.3)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", "claude", "-l", text)
        time.sleep(0.3)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """The first screen showing `text`, looked at every 0.5 s for `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not on screen within {timeout} s:\n{screen}")
            time.sleep(0.5)

    def drive(self, answer: str, refusals, react: Callable[[str], None], timeout: float,
              state=None) -> list[str]:
        """Every 1.5 s, the screen: none of `refusals` may be on it; once `answer` is, the
        screens seen so far; until then `react(screen)` answers it. Fails with the last three
        screens (and `state`, the caller's progress) when `answer` is not on screen within
        `timeout` s."""
        screens: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(1.5)
            screen = self.screen()
            screens.append(screen)
            refused = [r for r in refusals if r in screen]
            assert not refused, f"Claude Code refused ({refused}):\n{screen}"
            if answer in screen:
                return screens
            react(screen)
        pytest.fail(f"no answer on screen within {timeout} s"
                    + (f" ({state})" if state is not None else "") + "; the last screens:\n"
                    + "\n=====\n".join(screens[-3:]))

    def kill(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


# ---------------------------------------------------------------------------------------------
# The simulator


@dataclass
class Account:
    access_token: str
    refresh_token: str
    creds_file: Path


class Sim:
    """Client for the simulator's control API (`/_sim/...`)."""

    def __init__(self, url: str):
        self.url = url
        # No keep-alive: the sim may close a connection after a control call (body left
        # unread), and reusing it races with that close.
        self.http = httpx.Client(base_url=url, timeout=10, limits=httpx.Limits(max_keepalive_connections=0))

    def _post(self, path: str, body: dict | None = None) -> dict:
        r = self.http.post(path, json=body or {})
        assert r.is_success, f"sim {path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}

    def reset(self) -> None:
        self._post("/_sim/reset")

    def rule(self, *reply: dict, match: dict | None = None, times: int | None = None,
             http_error: dict | None = None, id: str | None = None) -> None:
        """Add a reply rule; `reply` are the steps of docs/simulator.md (`{"text": ...}`, ...)."""
        body: dict = {"match": match or {}}
        if reply:
            body["reply"] = list(reply)
        if http_error:
            body["http_error"] = http_error
        if times is not None:
            body["times"] = times
        if id:
            body["id"] = id
        self._post("/_sim/rules", body)

    def account(self, dir: Path, expires_at: datetime | None = None) -> Account:
        """Register a fresh social account and write a matching kiro-auth-token.json into `dir`."""
        tag = uuid.uuid4().hex[:12]
        acc = Account(f"e2e-access-{tag}", f"e2e-refresh-{tag}", dir / f"kiro-auth-token-{tag}.json")
        self._post("/_sim/accounts", {
            "access_token": acc.access_token, "refresh_token": acc.refresh_token,
            "expires_in": 3600, "profile_arn": PROFILE_ARN, "kind": "social",
        })
        expires_at = expires_at or datetime.now(timezone.utc) + timedelta(hours=1)
        acc.creds_file.write_text(json.dumps({
            "accessToken": acc.access_token, "refreshToken": acc.refresh_token,
            "expiresAt": expires_at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "profileArn": PROFILE_ARN, "authMethod": "social", "region": "us-east-1",
        }))
        acc.creds_file.chmod(0o600)
        return acc

    def expire(self, acc: Account) -> None:
        self._post("/_sim/accounts/expire", {"access_token": acc.access_token})

    def log(self) -> list[dict]:
        r = self.http.get("/_sim/log")
        assert r.is_success, r.text
        body = r.json()
        return body["requests"] if isinstance(body, dict) and "requests" in body else body

    def calls(self, path: str) -> list[dict]:
        return [e for e in self.log() if e.get("path", "").split("?")[0] == path]

    def chat_requests(self) -> list[dict]:
        """The GenerateAssistantResponse requests, in order (either binding)."""
        return [e for e in self.log()
                if e.get("path", "").startswith("/generateAssistantResponse")
                or "GenerateAssistantResponse" in (e.get("target") or "")]


def current_message(entry: dict) -> dict:
    """The `currentMessage.userInputMessage` of a logged chat request."""
    return entry["body"]["conversationState"]["currentMessage"]["userInputMessage"]


def header(entry: dict, name: str) -> str:
    """A header of a logged request, whatever its case."""
    return next((v for k, v in entry.get("headers", {}).items() if k.lower() == name), "")


def tool_results(entry: dict) -> list[dict]:
    return current_message(entry).get("userInputMessageContext", {}).get("toolResults", [])


# ---------------------------------------------------------------------------------------------
# The gateway


@dataclass
class Gateway:
    url: str
    key: str
    home: Path
    proc: Proc

    def anthropic(self, **kw) -> anthropic.Anthropic:
        kw.setdefault("api_key", self.key)
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 60.0)
        return anthropic.Anthropic(base_url=self.url, **kw)

    def openai(self, **kw) -> openai.OpenAI:
        kw.setdefault("api_key", self.key)
        kw.setdefault("max_retries", 0)
        kw.setdefault("timeout", 60.0)
        return openai.OpenAI(base_url=self.url + "/v1", **kw)


def _start_gateway(sim: Sim, workdir: Path, account: Account, env: dict[str, str]) -> Gateway:
    _require(CONDUIT_BIN)
    home = Path(tempfile.mkdtemp(prefix="gw-", dir=workdir))
    key = f"e2e-key-{uuid.uuid4().hex}"
    full_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home / "home"),
        "CONDUIT_HOME": str(home / "conduit"),
        "PROXY_API_KEY": key,
        "CONDUIT_KIRO_API_URL": sim.url,
        "CONDUIT_KIRO_AUTH_URL": sim.url,
        "CONDUIT_SSO_OIDC_URL": sim.url,
        "KIRO_CREDS_FILE": str(account.creds_file),
        "PROFILE_ARN": PROFILE_ARN,
        "CONDUIT_PING_INTERVAL_MS": "500",
        "RUST_LOG": os.environ.get("RUST_LOG", "info"),
        "RUST_BACKTRACE": "1",
        "NO_COLOR": "1",
        **env,
    }
    (home / "home").mkdir()
    proc = Proc(f"conduit-{home.name}", [str(CONDUIT_BIN), "serve", "--port", "0"], full_env, home)
    port = proc.wait_for_file(home / "conduit" / "run" / "port")
    gw = Gateway(f"http://127.0.0.1:{port}", key, home, proc)
    _wait_healthy(gw.url + "/health", proc)
    return gw


def _wait_healthy(url: str, proc: Proc) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if proc.popen.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} not healthy at {url}:\n{proc.output()}")


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="conduit-e2e-"))
    yield d
    if os.environ.get("E2E_KEEP_WORKDIR") != "1":
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def sim(workdir):
    _require(SIM_BIN)
    port_file = workdir / "sim.port"
    proc = Proc("conduit-sim", [str(SIM_BIN), "--port", "0", "--port-file", str(port_file)],
                {"PATH": os.environ.get("PATH", ""), "RUST_LOG": os.environ.get("RUST_LOG", "info"),
                 "NO_COLOR": "1"},
                workdir)
    port = proc.wait_for_file(port_file)
    s = Sim(f"http://127.0.0.1:{port}")
    yield s
    proc.stop()


@pytest.fixture(scope="session")
def account(sim, workdir) -> Account:
    return sim.account(workdir)


@pytest.fixture(scope="session")
def gateway(sim, workdir, account):
    """The shared gateway: default settings, the session account."""
    gw = _start_gateway(sim, workdir, account, {})
    yield gw
    gw.proc.stop()


@pytest.fixture
def start_gateway(sim, workdir):
    """Factory for a dedicated gateway with extra environment (and optionally its own account)."""
    started: list[Gateway] = []

    def start(env: dict[str, str] | None = None, account: Account | None = None) -> Gateway:
        gw = _start_gateway(sim, workdir, account or sim.account(workdir), env or {})
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.proc.stop()


# The simulator's AWS test credentials (`conduit_sim::bedrock`) and Anthropic API key
# (`conduit_sim::anthropic::TEST_API_KEY`).
AWS_TEST_ACCESS_KEY_ID = "AKIACONDUITSIMTEST01"
AWS_TEST_SECRET_ACCESS_KEY = "conduitSimTestSecretKey/0123456789EXAMPLE"
ANTHROPIC_TEST_API_KEY = "sk-ant-api03-conduit-sim-test"


def aws_env(home: Path, secret: str = AWS_TEST_SECRET_ACCESS_KEY) -> dict[str, str]:
    """AWS credentials for the gateway: the sim's test pair, and nothing else the chain could
    find (no instance metadata, no shared files: HOME is the gateway's own temp dir)."""
    return {
        "AWS_ACCESS_KEY_ID": AWS_TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
    }


@pytest.fixture
def configured_gateway(sim, workdir):
    """Factory for a gateway started with a config file. `config` is TOML in which `{sim}`
    stands for the simulator's URL; the gateway gets the sim's AWS test credentials (or
    `aws_secret`) and `ANTHROPIC_TEST_KEY` for an `anthropic` upstream."""
    started: list[Gateway] = []

    def start(config: str, env: dict[str, str] | None = None,
              aws_secret: str = AWS_TEST_SECRET_ACCESS_KEY) -> Gateway:
        path = Path(tempfile.mkdtemp(prefix="cfg-", dir=workdir)) / "conduit.toml"
        path.write_text(config.replace("{sim}", sim.url))
        full = {**aws_env(path.parent, aws_secret), "CONDUIT_CONFIG": str(path),
                "ANTHROPIC_TEST_KEY": ANTHROPIC_TEST_API_KEY, **(env or {})}
        gw = _start_gateway(sim, workdir, sim.account(workdir), full)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.proc.stop()


def bedrock_calls(sim: Sim, op: str = "invoke") -> list[dict]:
    """The sim's Bedrock runtime calls of one operation (`invoke` covers both invoke paths;
    `count-tokens`), in order."""
    out = []
    for e in sim.log():
        if e.get("service") != "bedrock":
            continue
        last = e.get("path", "").rsplit("/", 1)[-1]
        if (op == "invoke" and last in ("invoke", "invoke-with-response-stream")) or last == op:
            out.append(e)
    return out


@pytest.fixture
def client(gateway) -> anthropic.Anthropic:
    return gateway.anthropic()


@pytest.fixture(scope="session")
def sso(sim, workdir):
    """Two real IdPs (different audiences and mail domains) and one team gateway trusting both:
    the first through `OIDC_*`, the second through `POST /admin/idps` (idp_harness.start_sso).
    One for the session, here so that every module shares it (a session fixture imported into
    two modules would be two); a module that changes the IdPs defines an `sso` of its own."""
    from idp_harness import start_sso, stop_sso  # idp_harness imports this module

    s = start_sso(sim, workdir)
    yield s
    stop_sso(s)


@pytest.fixture(scope="session")
def keyring(workdir):
    """A real Secret Service for `conduit token`: gnome-keyring-daemon, unlocked, on a private
    D-Bus session bus (token_harness.Keyring); `keyring.env` reaches it."""
    from token_harness import Keyring

    k = Keyring(Path(tempfile.mkdtemp(prefix="keyring-", dir=workdir))).start()
    yield k
    k.stop()


@pytest.fixture(scope="session")
def token_world(sim, workdir, keyring):
    """The `conduit token` stories' IdP (a public native client) and team gateway
    (token_harness.start_token_world); `token_world.dev()` makes a developer's machine."""
    from token_harness import start_token_world, stop_token_world

    w = start_token_world(sim, workdir, keyring)
    yield w
    stop_token_world(w)


@pytest.fixture(autouse=True)
def _fresh_sim(request):
    """Clear the simulator's rules and log before each test; remember where the logs stood."""
    if "sim" in request.fixturenames:
        request.getfixturevalue("sim").reset()
    for p in _PROCS:
        p.mark = p.size()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for p in list(_PROCS):
            text = p.output(p.mark)
            if text.strip():
                report.sections.append((f"{p.name} output ({report.when})", text[-20000:]))
