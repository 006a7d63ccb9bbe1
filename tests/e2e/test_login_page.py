"""The /login page in headless Chromium: it shows the device code, the test approves it at the
simulator (acting as the person), and the page ends with "Signed in."; the account is saved."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def test_login_page_signs_in_in_chromium(sim, start_gateway):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: run scripts/setup-e2e.sh (installs Debian's chromium)")
    # No PROFILE_ARN: the profile comes from ListAvailableProfiles for the new login. An IAM
    # Identity Center start URL: a Builder ID has no profile of its own (it sends Kiro's
    # placeholder ARN, which is not stored).
    gw = start_gateway({"CONDUIT_SECRET_STORE": "file", "PROFILE_ARN": "",
                        "CONDUIT_SSO_START_URL": "https://e2e.awsapps.com/start"})
    driver = subprocess.Popen(
        ["node", str(NODE_DIR / "login_page.mjs"), gw.url + "/login"],
        cwd=NODE_DIR, env={**os.environ, "CHROMIUM": CHROMIUM},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        first = driver.stdout.readline().strip()
        assert first.startswith("CODE "), first + driver.stderr.read()
        sim._post("/_sim/device/approve", {"user_code": first.removeprefix("CODE ")})
        out, err = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, err
    assert "SIGNED_IN" in out

    data = gw.home / "conduit" / "data"
    token_file = data / "kiro-auth-token.json"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = json.loads(token_file.read_text())
    assert token["authMethod"] == "IdC" and token["profileArn"].startswith("arn:aws:codewhisperer:")
    registry = json.loads((data / "credentials.json").read_text())
    assert registry["accounts"][0]["source"] == "device"
