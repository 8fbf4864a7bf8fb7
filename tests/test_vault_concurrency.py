"""Rotation and new keys from several processes at once: every stored key stays readable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from letzdesk.app import build
from letzdesk.settings import Settings


def letzdesk(data_dir: Path, *args: str, key: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "LETZDESK_PASSPHRASE": "a long passphrase"}
    if key:
        env["LETZSHOP_API_KEY"] = key
    return subprocess.Popen(
        [sys.executable, "-m", "letzdesk", *args, "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_rotations_and_additions_at_the_same_time_lose_no_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = letzdesk(data, "vendor", "add", "V0", "--endpoint", "http://127.0.0.1:9/graphql", key="key-0-not-real")
    assert first.wait(60) == 0, first.stderr.read()  # type: ignore[union-attr]

    for round_ in range(3):
        procs = [
            letzdesk(data, "keys", "rotate"),
            letzdesk(
                data,
                "vendor",
                "add",
                f"A{round_}",
                "--endpoint",
                "http://127.0.0.1:9/graphql",
                key=f"key-a{round_}-not-real",
            ),
            letzdesk(data, "keys", "rotate"),
            letzdesk(
                data,
                "vendor",
                "add",
                f"B{round_}",
                "--endpoint",
                "http://127.0.0.1:9/graphql",
                key=f"key-b{round_}-not-real",
            ),
        ]
        for proc in procs:
            assert proc.wait(120) == 0, proc.stderr.read()  # type: ignore[union-attr]

    os.environ["LETZDESK_PASSPHRASE"] = "a long passphrase"
    try:
        services = build(Settings.load(data, use_keyring=False))
        vendors = services.vendors.list()
        assert len(vendors) == 7
        assert all(not v.masked_key.startswith("(unreadable") for v in vendors), vendors
        assert len((data / "master.key").read_bytes().split(b"\n")) >= 3  # sealed: marker, salt, token
        services.close()
    finally:
        del os.environ["LETZDESK_PASSPHRASE"]
