#!/usr/bin/env python3
"""The token helper's benchmark (issue 13): wall time of `conduit token` on a cached token,
against `cat` of a small file (the floor: one fork + exec + read), and of the non-interactive
failure path. It reports; it asserts nothing.

    scripts/bench-token.py [--bin target/release/conduit] [--runs 200]

Stores measured:
  * file: CONDUIT_TOKEN_STORE=file, the profile and `<profile>.secret.json` written as
    `conduit token login` leaves them (docs/design-token.md §2);
  * secret-service: when dbus-run-session, gnome-keyring-daemon and secret-tool exist, a private
    session bus with an unlocked gnome-keyring, the entry seeded with `secret-tool store` under
    the attributes keyring-rs 3.6 uses (service, username, target, application).

Every command runs with stdin from /dev/null, stdout and stderr piped, in a new session
(setsid(2), so no controlling terminal: /dev/tty cannot be opened) and without CI, DISPLAY,
WAYLAND_DISPLAY or BROWSER. Runs of the measured command and of `cat` alternate, so machine
load drifts onto both alike. Times are from just before fork to just after wait, in Python
(subprocess), which adds the same overhead to every row.
"""

import argparse
import base64
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVICE = "conduit"
GATEWAY = "https://gw.bench.invalid:8443"
LIFETIME = 3600
KEYRING_PASSWORD = "bench"
REFERENCE_MS = 50.0
SCRUB = ("CI", "DISPLAY", "WAYLAND_DISPLAY", "BROWSER", "CONDUIT_TOKEN_PROFILE",
         "CONDUIT_TOKEN_STORE", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def fake_access_token() -> str:
    """Shaped like the gateway's EdDSA JWT (its size matters for the read and the print)."""
    header = b64url(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}).encode())
    claims = b64url(json.dumps({
        "iss": GATEWAY, "sub": "user-" + secrets.token_hex(8), "aud": "conduit",
        "exp": int(time.time()) + LIFETIME, "iat": int(time.time()),
        "jti": secrets.token_hex(16), "email": "bench@example.com", "scope": "gateway",
    }).encode())
    return f"{header}.{claims}.{b64url(secrets.token_bytes(64))}"


def write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def secret_blob(token: str) -> str:
    return json.dumps({"access_token": token, "refresh_token": "r-" + secrets.token_hex(32),
                       "expires_at": int(time.time()) + LIFETIME})


def write_profile(conduit_home: Path, profile: str, store: str) -> None:
    write_private(conduit_home / "tokens" / f"{profile}.json", json.dumps({
        "mode": "gateway", "gateway": GATEWAY, "issuer": GATEWAY, "client_id": "conduit-cli",
        "authorization_endpoint": f"{GATEWAY}/oauth/authorize",
        "token_endpoint": f"{GATEWAY}/oauth/token",
        "revocation_endpoint": f"{GATEWAY}/oauth/revoke", "ca_cert": None, "store": store,
        "user": "bench@example.com", "expires_at": int(time.time()) + LIFETIME,
        "lifetime_secs": LIFETIME,
    }))


def base_env(root: Path, store: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    env["HOME"] = str(root / "home")
    env["CONDUIT_HOME"] = str(root / "home" / ".conduit")
    if store:
        env["CONDUIT_TOKEN_STORE"] = store
    return env


def run_once(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter_ns()
    r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       start_new_session=True)
    return (time.perf_counter_ns() - start) / 1e6, r


def measure(pairs: list[tuple[str, list[str], dict, int]], runs: int, warmup: int = 10) -> dict:
    """Alternate the commands `runs` times each (after `warmup` unmeasured rounds); every run
    must end with its expected exit code."""
    samples: dict[str, list[float]] = {name: [] for name, *_ in pairs}
    for i in range(warmup + runs):
        for name, argv, env, code in pairs:
            ms, r = run_once(argv, env)
            if r.returncode != code:
                sys.exit(f"{name}: exit {r.returncode}, expected {code}\n"
                         f"stdout: {r.stdout[:200]!r}\nstderr: {r.stderr.decode(errors='replace')}")
            if i >= warmup:
                samples[name].append(ms)
    return samples


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[max(0, min(len(s), math.ceil(p / 100 * len(s))) - 1)]


def check_token(name: str, argv: list[str], env: dict, token: str) -> None:
    _, r = run_once(argv, env)
    if r.returncode != 0 or r.stdout != (token + "\n").encode():
        sys.exit(f"{name}: the helper did not print the seeded token (exit {r.returncode})\n"
                 f"stdout: {r.stdout[:200]!r}\nstderr: {r.stderr.decode(errors='replace')}")


def bench_file(conduit: str, runs: int, root: Path) -> dict:
    env = base_env(root, "file")
    home = Path(env["CONDUIT_HOME"])
    token = fake_access_token()
    write_profile(home, "default", "file")
    write_private(home / "tokens" / "default.secret.json", secret_blob(token))
    small = root / "small.txt"
    small.write_text(token + "\n")
    helper = [conduit, "token"]
    check_token("file store", helper, env, token)
    samples = measure([
        ("conduit token (file store)", helper, env, 0),
        ("cat of a small file", ["cat", str(small)], env, 0),
        ("conduit --version (the binary's own start)", [conduit, "--version"], env, 0),
    ], runs)
    fail_env = base_env(root, "file")
    ci_env = dict(fail_env, CI="true")
    nobody = [conduit, "token", "--profile", "nobody"]
    _, r = run_once(nobody, fail_env)
    failure_line = r.stderr.decode(errors="replace").strip()
    # A profile whose tokens were deleted (a refused refresh does that): the store is read.
    write_profile(home, "emptied", "file")
    emptied = [conduit, "token", "--profile", "emptied"]
    samples.update(measure([
        ("no profile, no TTY (setsid, stdin /dev/null)", nobody, fail_env, 1),
        ("no profile, CI=true", nobody, ci_env, 1),
        ("profile without tokens, no TTY", emptied, fail_env, 1),
    ], runs))
    return {"samples": samples, "failure_stderr": failure_line,
            "failure_stdout_empty": r.stdout == b""}


def keyring_tools() -> list[str]:
    return [t for t in ("dbus-run-session", "gnome-keyring-daemon", "secret-tool", "dbus-send")
            if shutil.which(t) is None]


def bench_secret_service_inside(conduit: str, runs: int, root: Path) -> dict:
    """Runs inside dbus-run-session: start an unlocked gnome-keyring on this bus, seed the entry
    as keyring-rs would have written it, and time the helper against it."""
    env = base_env(root, "secret-service")
    daemon_env = dict(env, XDG_DATA_HOME=str(root / "home/.local/share"),
                      XDG_CONFIG_HOME=str(root / "home/.config"),
                      XDG_CACHE_HOME=str(root / "home/.cache"),
                      XDG_RUNTIME_DIR=str(root / "run"))
    (root / "run").mkdir(mode=0o700)
    env.update({k: daemon_env[k] for k in ("XDG_RUNTIME_DIR", "XDG_DATA_HOME")})
    daemon = subprocess.Popen(
        ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
        env=daemon_env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=open(root / "gnome-keyring.log", "wb"))
    try:
        daemon.stdin.write(KEYRING_PASSWORD.encode())
        daemon.stdin.close()
        deadline = time.monotonic() + 20
        while True:
            owned = subprocess.run(
                ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                 "string:org.freedesktop.secrets"], env=daemon_env, capture_output=True, text=True)
            if "boolean true" in owned.stdout:
                break
            if daemon.poll() is not None or time.monotonic() > deadline:
                sys.exit("gnome-keyring-daemon did not come up:\n"
                         + (root / "gnome-keyring.log").read_text())
            time.sleep(0.05)
        profile = "default"
        account = f"token:{profile}"
        token = fake_access_token()
        # keyring-rs 3.6 SsCredential::new_with_target(None, service, user): these attributes
        # and this label, in the default collection; conduit adds `account` (secret.rs).
        seeded = subprocess.run(
            ["secret-tool", "store", f"--label={account}@{SERVICE}:default (keyring v3.6.3)",
             "service", SERVICE, "username", account, "target", "default",
             "application", "rust-keyring", "account", account],
            env=daemon_env, input=secret_blob(token), capture_output=True, text=True)
        if seeded.returncode != 0:
            sys.exit(f"secret-tool store failed: {seeded.stderr}")
        write_profile(Path(env["CONDUIT_HOME"]), profile, "secret-service")
        helper = [conduit, "token"]
        check_token("secret-service store", helper, env, token)
        small = root / "small.txt"
        small.write_text(token + "\n")
        return {"samples": measure([
            ("conduit token (Secret Service, gnome-keyring)", helper, env, 0),
            ("cat of a small file (same bus)", ["cat", str(small)], env, 0),
        ], runs)}
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()


def bench_secret_service(conduit: str, runs: int) -> dict | str:
    missing = keyring_tools()
    if missing:
        return f"not measured: {', '.join(missing)} not installed"
    r = subprocess.run(["dbus-run-session", "--", sys.executable, __file__, "--bin", conduit,
                        "--runs", str(runs), "--inside-dbus"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"not measured: {r.stderr.strip() or r.stdout.strip()}"
    return json.loads(r.stdout)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}"


def load() -> str:
    try:
        return "%.2f" % os.getloadavg()[0]
    except OSError:
        return "?"


def table(samples: dict[str, list[float]], floor: float) -> list[str]:
    out = ["| command | runs | p50 | p95 | min | max | p50 / cat p50 |",
           "|---|---|---|---|---|---|---|"]
    for name, xs in samples.items():
        out.append(f"| {name} | {len(xs)} | {pct(xs, 50):.2f} ms | {pct(xs, 95):.2f} ms | "
                   f"{min(xs):.2f} ms | {max(xs):.2f} ms | {pct(xs, 50) / floor:.2f}× |")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root_dir = Path(__file__).resolve().parent.parent
    ap.add_argument("--bin", default=str(root_dir / "target/release/conduit"))
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--inside-dbus", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    conduit = str(Path(args.bin).resolve())
    if not os.access(conduit, os.X_OK):
        sys.exit(f"{conduit} is not an executable: build it first "
                 "(cargo build --release -p conduit) or pass --bin")
    with tempfile.TemporaryDirectory(prefix="bench-token-") as tmp:
        root = Path(tmp)
        if args.inside_dbus:
            print(json.dumps(bench_secret_service_inside(conduit, args.runs, root)))
            return
        before = load()
        started = time.monotonic()
        (root / "file").mkdir()
        file_result = bench_file(conduit, args.runs, root / "file")
    ss = bench_secret_service(conduit, args.runs)
    after = load()

    print(f"## conduit token, {time.strftime('%Y-%m-%d')}\n")
    print(f"{conduit}; {machine()}; 1-minute load average {before} before, {after} after; "
          f"{time.monotonic() - started:.0f} s.\n")
    samples = file_result["samples"]
    floor = pct(samples["cat of a small file"], 50)
    print("\n".join(table(samples, floor)))
    cached = pct(samples["conduit token (file store)"], 50)
    print(f"\nCached path, file store: p50 {cached:.2f} ms, {cached / floor:.2f}× cat "
          f"({floor:.2f} ms); the reference is {REFERENCE_MS:.0f} ms, the target ≤ 5 ms p50.")
    print(f"Failure path: stdout empty: {file_result['failure_stdout_empty']}; stderr: "
          f"`{file_result['failure_stderr']}`\n")
    if isinstance(ss, str):
        print(f"Secret Service: {ss}")
    else:
        ss_samples = ss["samples"]
        ss_floor = pct(ss_samples["cat of a small file (same bus)"], 50)
        print("\n".join(table(ss_samples, ss_floor)))
        print(f"\nCached path, Secret Service: p50 "
              f"{pct(ss_samples['conduit token (Secret Service, gnome-keyring)'], 50):.2f} ms.")


if __name__ == "__main__":
    main()
