"""Harness for the `conduit token` stories (issue 13; docs/design-token.md is the contract).

- `Keyring`: a real Linux keychain for the helper: a private D-Bus session bus (`dbus-daemon
  --session` on a socket in a temp dir) and `gnome-keyring-daemon --unlock
  --components=secrets` (the Secret Service; password on stdin, keyrings encrypted under its own
  temp HOME). `env` is what a child needs to reach it; `entry(profile)` / `secret(profile)` /
  `clear(profile)` go through `secret-tool`. conftest's session fixture `keyring` starts one.
  `BusWatch(keyring)`: `dbus-monitor` on that bus, the calls to the Secret Service and who made
  them (each `conduit token` run is a D-Bus connection of its own).
- `Browser`: a `$BROWSER` for `conduit token login`: a shell wrapper that records every URL it is
  given (`opened()`) and drives headless Chromium in the background (node/token_browser.mjs: the
  IdP chooser, the IdP's login and consent, "Connect" or "Cancel" on the gateway's consent page,
  until the loopback callback page has loaded; `result(n)`), so `conduit token` is not blocked;
  `act=False`: record only.
- `Dev`: a developer's machine: its own HOME and CONDUIT_HOME, the keyring's bus, a `Browser`.
  `token(*args)` runs `conduit <args>` without a terminal (`setsid`, stdin /dev/null, stdout and
  stderr piped); `tty(*args)` runs it in a tmux pane (a real TTY on stdin and stdout, stderr to a
  file) and reads the pane; `login(...)` is `conduit token login` in the pane; `profile(name)` the
  stored profile; `concurrent(n, ...)` n helpers at once.
- `TokenWorld` (conftest's session fixture `token_world`): one IdP (oidc-provider, a public
  native client whose id is also the audience, loopback redirects for the gateway and for
  `conduit token`) and a team gateway (DEBUG_MODE=all) trusting it through `OIDC_*`.
- `rotations(gw, since)`: the gateway's `refresh token rotated` log lines since a log offset.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import CONDUIT_BIN, START_TIMEOUT, Tmux, _require
from idp_harness import CHROMIUM, LOOPBACK_CALLBACK, NODE_DIR, Idp
from team_harness import MODEL, TeamGateway, secrets_in, start_team_gateway

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"
# `conduit token login`'s loopback redirect (docs/design-token.md §2: /callback on a free port);
# the IdP's client is "native", so one URI without a port matches every port.
TOKEN_CALLBACK = "http://127.0.0.1/callback"
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# What the simulator answers in these stories (a rule matching "token hello").
ANSWER = "Answered through conduit token."
KEYRING_PASSWORD = "e2e-keyring-" + uuid.uuid4().hex[:8]


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} missing: run scripts/setup-e2e.sh")


# ---------------------------------------------------------------------------------------------
# The keychain


class Keyring:
    """A private session bus with gnome-keyring-daemon's Secret Service on it, unlocked."""

    def __init__(self, root: Path):
        for tool in ("dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"):
            _need(tool)
        self.root = root
        self.home = root / "home"
        self.runtime = root / "run"
        self.home.mkdir(parents=True)
        self.runtime.mkdir(mode=0o700)
        self.bus = f"unix:path={root / 'bus'}"
        # What a child needs to reach the keyring (the daemons' own HOME is `home`).
        self.env = {"DBUS_SESSION_BUS_ADDRESS": self.bus, "XDG_RUNTIME_DIR": str(self.runtime)}
        self._daemon_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.home / ".local" / "share"),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_CACHE_HOME": str(self.home / ".cache"), **self.env,
        }
        self.dbus_pid: int | None = None
        self.daemon: subprocess.Popen | None = None
        self.log = root / "gnome-keyring.log"

    def start(self) -> "Keyring":
        out = subprocess.run(
            ["dbus-daemon", "--session", f"--address={self.bus}", "--fork", "--print-address=1",
             "--print-pid=1"], env=self._daemon_env, capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, f"dbus-daemon: {out.stderr}"
        self.dbus_pid = int(out.stdout.split()[-1])
        self.daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            env=self._daemon_env, stdin=subprocess.PIPE, stdout=open(self.log, "wb"),
            stderr=subprocess.STDOUT, start_new_session=True)
        self.daemon.stdin.write(KEYRING_PASSWORD.encode())
        self.daemon.stdin.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._owned("org.freedesktop.secrets"):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gnome-keyring-daemon not on the bus:\n{self.log.read_text()}")
            time.sleep(0.05)
        return self

    def _owned(self, name: str) -> bool:
        r = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
             "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
            env=self._daemon_env, capture_output=True, text=True, timeout=10)
        return "boolean true" in r.stdout

    def _tool(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["secret-tool", *args], env=self._daemon_env, input=stdin,
                              capture_output=True, text=True, timeout=20)

    def entry(self, profile: str) -> str:
        """`secret-tool search --all service conduit account token:<profile>`: what it shows
        (attributes on stderr, label and secret on stdout), "" when there is no such item."""
        r = self._tool("search", "--all", "service", "conduit", "account", f"token:{profile}")
        return (r.stdout + r.stderr).strip()

    def all_conduit(self) -> str:
        r = self._tool("search", "--all", "service", "conduit")
        return r.stdout + r.stderr

    def secret(self, profile: str) -> dict | None:
        """The stored secret of `profile` (the JSON of docs/design-token.md §2), None if none."""
        r = self._tool("lookup", "service", "conduit", "account", f"token:{profile}")
        if r.returncode != 0 or not r.stdout.strip():
            return None
        return json.loads(r.stdout)

    def clear(self, profile: str) -> None:
        self._tool("clear", "service", "conduit", "account", f"token:{profile}")

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.poll() is None:
            self.daemon.terminate()
            try:
                self.daemon.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                self.daemon.wait()
        if self.dbus_pid is not None:
            try:
                os.kill(self.dbus_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            self.dbus_pid = None


class BusWatch:
    """`dbus-monitor` on the keyring's bus, recording the method calls to the Secret Service
    (`org.freedesktop.secrets`): each `conduit token` run is a connection of its own, so the
    distinct senders count the runs that touched the keychain (tests call no secret-tool while
    one watches)."""

    CALL = re.compile(r"^method call time=\S+ sender=(\S+) -> destination=\S+ serial=\d+ "
                      r"path=\S+; interface=(\S+); member=(\S+)$")

    def __init__(self, keyring: Keyring):
        _need("dbus-monitor")
        self.log = keyring.root / f"dbus-monitor-{uuid.uuid4().hex[:8]}.log"
        self.proc = subprocess.Popen(
            ["dbus-monitor", "--address", keyring.bus,
             "type='method_call',destination='org.freedesktop.secrets'"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        # Listening once it has printed its own NameAcquired.
        deadline = time.monotonic() + 10
        while "NameAcquired" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dbus-monitor did not start:\n{self.text()}")
            time.sleep(0.05)

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def calls(self) -> list[tuple[str, str, str, str]]:
        """(sender, interface, member, the first argument line) of each call so far."""
        out = []
        lines = self.text().splitlines()
        for i, line in enumerate(lines):
            m = self.CALL.match(line)
            if m:
                arg = lines[i + 1].strip() if i + 1 < len(lines) else ""
                out.append((m.group(1), m.group(2), m.group(3), arg))
        return out

    def senders(self) -> set[str]:
        return {c[0] for c in self.calls()}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


# ---------------------------------------------------------------------------------------------
# The browser


class Browser:
    """A `$BROWSER` wrapper: records each URL in `opened`, then (`act`) runs node/token_browser.mjs
    on it in the background. `consent`: "connect" or "cancel" on the gateway's consent page."""

    def __init__(self, dir: Path, login: str, idp_name: str = "", consent: str = "connect",
                 act: bool = True):
        dir.mkdir(parents=True, exist_ok=True)
        self.dir = dir
        self.login = login
        self.path = dir / "browser.sh"
        q = shlex.quote
        # A session of its own, as a real browser is not part of the terminal that opened it
        # (the pane or pty closing would otherwise hang it up mid-page), and the real clock
        # even when conduit runs under libfaketime.
        drive = ("setsid env -u LD_PRELOAD -u FAKETIME -u DONT_FAKE_MONOTONIC "
                 f"E2E_LOGIN={q(login)} E2E_IDP_NAME={q(idp_name)} E2E_CONSENT={q(consent)} "
                 f"E2E_RESULT=\"$d/result-$n.json\" CHROMIUM={q(CHROMIUM)} "
                 f"node {q(str(NODE_DIR / 'token_browser.mjs'))} \"$1\" "
                 f"> \"$d/browser-$n.log\" 2>&1 < /dev/null &\n"
                 "echo $! >> \"$d/pids\"\n")
        self.path.write_text(
            "#!/bin/sh\n"
            "# BROWSER for `conduit token login` (tests/e2e/token_harness.py).\n"
            f"d={q(str(dir))}\n"
            "echo \"$1\" >> \"$d/opened\"\n"
            "n=$(wc -l < \"$d/opened\")\n"
            + (drive if act else "")
            + "exit 0\n")
        self.path.chmod(0o755)

    def opened(self) -> list[str]:
        f = self.dir / "opened"
        return f.read_text().splitlines() if f.exists() else []

    def result(self, n: int = 1, timeout: float = 60) -> dict:
        """The outcome of the `n`th opening (1-based), once its script has finished."""
        path = self.dir / f"result-{n}.json"
        deadline = time.monotonic() + timeout
        while not path.exists() or not path.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"browser run {n} did not finish within {timeout} s:\n"
                                     + self.log(n))
            time.sleep(0.1)
        return json.loads(path.read_text())

    def log(self, n: int = 1) -> str:
        p = self.dir / f"browser-{n}.log"
        return p.read_text(errors="replace") if p.exists() else "(no browser log)"

    def kill(self) -> None:
        pids = self.dir / "pids"
        if pids.exists():
            for pid in pids.read_text().split():
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except (ProcessLookupError, ValueError):
                    pass


# ---------------------------------------------------------------------------------------------
# A developer's machine


@dataclass
class Run:
    """One `conduit` run: exit code, stdout, stderr, wall time (ms)."""

    code: int
    stdout: str
    stderr: str
    ms: float

    def __str__(self) -> str:
        return f"exit {self.code}, {self.ms:.1f} ms\nstdout: {self.stdout!r}\nstderr: {self.stderr!r}"

    @property
    def token(self) -> str:
        """stdout as a token: exactly one line, the token and a newline."""
        assert self.code == 0, str(self)
        assert self.stdout.endswith("\n") and self.stdout.count("\n") == 1, str(self)
        return self.stdout[:-1]


@dataclass
class TtyRun(Run):
    screen: str = ""


@dataclass
class Dev:
    root: Path
    keyring: Keyring
    browser: Browser
    home: Path = field(init=False)
    conduit_home: Path = field(init=False)
    _panes: list[Tmux] = field(default_factory=list)

    def __post_init__(self):
        self.home = self.root / "home"
        self.conduit_home = self.home / ".conduit-home"
        self.home.mkdir(parents=True, exist_ok=True)

    def env(self, browser: bool = True, **over: str) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "CONDUIT_HOME": str(self.conduit_home),
            "LANG": "C.UTF-8",
            "NO_COLOR": "1",
            **self.keyring.env,
        }
        if browser:
            env["BROWSER"] = str(self.browser.path)
        env.update(over)
        return {k: v for k, v in env.items() if v is not None}

    # -- without a terminal

    def token(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        """`conduit <args>` with no terminal at all: a new session (no controlling TTY, so
        /dev/tty does not open), stdin /dev/null, stdout and stderr pipes."""
        _require(CONDUIT_BIN)
        t = time.perf_counter()
        r = subprocess.run([str(CONDUIT_BIN), *args], env=env or self.env(), cwd=self.home,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, start_new_session=True)
        return Run(r.returncode, r.stdout, r.stderr, (time.perf_counter() - t) * 1000)

    def start(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen([str(CONDUIT_BIN), *args], env=env or self.env(), cwd=self.home,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)

    def concurrent(self, n: int, *args: str, env: dict[str, str] | None = None,
                   timeout: float = 60) -> list[Run]:
        """`n` runs of `conduit <args>` started together (each as `token` runs one)."""
        t = time.perf_counter()
        procs = [self.start(*args, env=env) for _ in range(n)]
        runs = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            runs.append(Run(p.returncode, out, err, (time.perf_counter() - t) * 1000))
        return runs

    # -- in a terminal

    def tty(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> TtyRun:
        """`conduit <args>` in a tmux pane of its own: stdin and stdout are the pane's TTY (its
        controlling terminal), stderr goes to a file. The pane's lines above the `exit=` line
        the wrapper prints are what the command wrote on stdout."""
        _require(CONDUIT_BIN)
        return self.pane([str(CONDUIT_BIN), *args], env=env, timeout=timeout)

    def pane(self, argv: list[str], env: dict[str, str] | None = None, timeout: float = 120,
             cwd: Path | None = None) -> TtyRun:
        """`argv` in a tmux pane of its own (as `tty` runs conduit), to its end."""
        _need("tmux")
        tag = uuid.uuid4().hex[:8]
        err = self.root / f"tty-{tag}.stderr"
        script = ('s=$(date +%s%N); "$@" 2>"$E2E_ERR"; rc=$?; e=$(date +%s%N); '
                  'echo "exit=$rc ms=$(( (e - s) / 1000 ))"')
        full = {**(env or self.env()), "TERM": "xterm-256color", "E2E_ERR": str(err)}
        pane = Tmux(cwd or self.home, full, ["sh", "-c", script, "sh", *argv], join=True)
        self._panes.append(pane)
        try:
            screen = pane.wait_for("exit=", timeout)
            # The line may still be arriving; read again once it is complete.
            time.sleep(0.2)
            screen = pane.screen()
        finally:
            pane.kill()
            self._panes.remove(pane)
        m = re.search(r"^exit=(\d+) ms=(\d+)$", screen, re.M)
        assert m, f"no exit line on the pane:\n{screen}"
        shown = screen[:m.start()].rstrip("\n")
        stdout = "\n".join(line.rstrip() for line in shown.splitlines())
        stdout = stdout + "\n" if stdout else ""
        return TtyRun(int(m.group(1)), stdout, err.read_text(errors="replace"),
                      int(m.group(2)) / 1000, screen)

    def login(self, gw_url: str | None = None, profile: str = "default", *extra: str,
              env: dict[str, str] | None = None) -> TtyRun:
        """`conduit token login [--gateway URL] --profile P` in a terminal; the browser signs in."""
        args = ["token", "login", *(["--gateway", gw_url] if gw_url else []),
                "--profile", profile, *extra]
        return self.tty(*args, env=env)

    def profile(self, name: str) -> dict:
        return json.loads((self.conduit_home / "tokens" / f"{name}.json").read_text())

    def files(self) -> list[Path]:
        return [p for p in self.home.rglob("*") if p.is_file()]

    def close(self) -> None:
        for pane in list(self._panes):
            pane.kill()
        self.browser.kill()


def faketime_env(offset_seconds: int) -> dict[str, str]:
    """libfaketime on the child's wall clock only (the monotonic clock is left alone)."""
    if not Path(FAKETIME_LIB).is_file():
        pytest.fail(f"{FAKETIME_LIB} missing: scripts/setup-e2e.sh installs libfaketime")
    return {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": f"+{offset_seconds}",
            "DONT_FAKE_MONOTONIC": "1"}


# ---------------------------------------------------------------------------------------------
# An IdP and a gateway


@dataclass
class TokenWorld:
    sim: object
    workdir: Path
    idp: Idp
    gw: TeamGateway
    keyring: Keyring
    extra: list[TeamGateway] = field(default_factory=list)
    devs: list[Dev] = field(default_factory=list)

    def dev(self, consent: str = "connect", act: bool = True, login: str | None = None) -> Dev:
        root = Path(tempfile.mkdtemp(prefix="dev-", dir=self.workdir))
        login = login or f"dev-{uuid.uuid4().hex[:8]}"
        d = Dev(root, self.keyring, Browser(root / "browser", login, self.idp.name, consent, act))
        self.devs.append(d)
        return d

    def gateway(self, **env: str) -> TeamGateway:
        """Another team gateway trusting the same IdP."""
        gw = start_team_gateway(self.sim, self.workdir, "sqlite", None,
                                gateway_env(self.idp, env))
        self.extra.append(gw)
        return gw


def gateway_env(idp: Idp, extra: dict[str, str]) -> dict[str, str]:
    """A team gateway trusting `idp` through `OIDC_*`, tokens with `aud` = the client id (the
    IdP's ID tokens, what direct-IdP mode prints), at DEBUG_MODE=all."""
    return {**idp.gateway_env(OIDC_AUDIENCE=idp.client_id), "DEBUG_MODE": "all", **extra}


def start_token_world(sim, workdir: Path, keyring: Keyring, **gw_env: str) -> TokenWorld:
    tag = uuid.uuid4().hex[:6]
    client = f"conduit-cli-{tag}"
    # A public native client (no secret, PKCE): the gateway's own sign-in uses it, and so does
    # `conduit token login --issuer … --client-id …` (direct-IdP mode); the IdP's ID tokens have
    # `aud` = the client id, which is what the gateway is told to expect (the IdP's resource
    # audience, for its access tokens, must be an absolute URI).
    idp = Idp(workdir, f"tokenidp-{tag}", audience=f"api://{client}", client_id=client,
              domain="token.example", client_secret=None,
              redirect_uris=(LOOPBACK_CALLBACK, TOKEN_CALLBACK)).start()
    try:
        gw = start_team_gateway(sim, workdir, "sqlite", None, gateway_env(idp, gw_env))
    except BaseException:
        idp.stop()
        raise
    return TokenWorld(sim, workdir, idp, gw, keyring)


def stop_token_world(world: TokenWorld) -> None:
    for d in world.devs:
        d.close()
    for gw in [world.gw, *world.extra]:
        gw.stop()
    world.idp.stop()


def rotations(gw: TeamGateway, since: int = 0) -> list[str]:
    """The gateway's `refresh token rotated` lines after log offset `since`."""
    return [ln for ln in gw.proc.output(since).splitlines() if "refresh token rotated" in ln]


def one_line(text: str) -> bool:
    """Exactly one non-empty line (a trailing newline allowed)."""
    return len(text.strip("\n").splitlines()) == 1 and text.strip() != ""


# ---------------------------------------------------------------------------------------------
# Story steps


def answered(gw, token: str) -> int:
    """Status of a `/v1/messages` through the gateway to the simulator with `token`."""
    return gw.post_messages(token, body={"model": MODEL, "max_tokens": 32,
                                         "messages": [{"role": "user", "content": "token hello"}]}
                            ).status_code


def logged_in(world: TokenWorld, dev: Dev, profile: str, gw=None) -> str:
    """`conduit token login --gateway` in a terminal, the browser signs in; then the helper's
    token (checked: one line, a JWT)."""
    gw = gw or world.gw
    before = len(dev.browser.opened())
    done = dev.login(gw.url, profile)
    assert done.code == 0, f"login failed: {done}\nbrowser: {dev.browser.log(before + 1)}"
    got = dev.browser.result(before + 1)
    assert got["ok"], f"the browser did not reach the callback: {got}\n{dev.browser.log(before + 1)}"
    token = dev.token("token", "--profile", profile).token
    assert JWT_RE.fullmatch(token), token
    return token


def secrets_of(world: TokenWorld, dev: Dev, profile: str, token: str | None = None) -> dict:
    """The secrets of a sign-in: the stored pair, `token`, and the authorization codes the
    browser carried back to the loopback callback."""
    out: dict[str, str] = {}
    stored = world.keyring.secret(profile) or {}
    out["access token"] = stored.get("access_token") or ""
    out["refresh token"] = stored.get("refresh_token") or ""
    if token:
        out["printed token"] = token
    for n in range(1, len(dev.browser.opened()) + 1):
        path = dev.browser.dir / f"result-{n}.json"
        if path.exists():
            params = json.loads(path.read_text()).get("callback_params") or {}
            out[f"code {n}"] = params.get("code", "")
    return out


def assert_nothing_leaked(gws, secrets: dict) -> None:
    """None of `secrets` in what the gateways wrote (logs, store)."""
    paths = [p for gw in gws for p in gw.files()]
    assert any(s for s in secrets.values()), "no secrets to look for"
    assert secrets_in(paths, secrets) == [], "secrets in the gateway's logs or store"
