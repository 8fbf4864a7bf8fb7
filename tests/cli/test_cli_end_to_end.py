"""The command line as a vendor uses it, against `letzdesk sandbox` in its own process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

KEY = "cli-test-key-not-real"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def letzdesk(
    *args: str,
    data_dir: Path,
    stdin: str | None = None,
    env: dict | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "letzdesk", *args, "--data-dir", str(data_dir)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "letzdesk",
            "sandbox",
            "--port",
            str(port),
            "--shipments",
            "40",
            "--seed",
            "7",
            "--api-key",
            KEY,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/graphql"
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.post(url, json={"query": "{__typename}"}, timeout=1)
            break
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"sandbox did not start: {proc.communicate()[1][-2000:]}") from None
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_vendor_import_reimport_orders(tmp_path: Path, sandbox_url: str) -> None:
    added = letzdesk("vendor", "add", "Atelier", "--endpoint", sandbox_url, data_dir=tmp_path, stdin=KEY + "\n")
    assert added.returncode == 0, added.stderr
    assert KEY not in added.stdout + added.stderr

    first = letzdesk("import", "Atelier", "--json", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    counts = json.loads(first.stdout)
    assert (counts["imported"], counts["updated"], counts["unchanged"], counts["failed"]) == (40, 0, 0, 0)

    second = json.loads(letzdesk("import", "Atelier", "--json", data_dir=tmp_path).stdout)
    assert (second["imported"], second["updated"], second["unchanged"]) == (0, 0, 40)

    orders = json.loads(letzdesk("orders", "Atelier", "--json", data_dir=tmp_path).stdout)
    assert len(orders) == 40
    required = {
        "order_number",
        "shipment_number",
        "shipment_id",
        "letzshop_state",
        "status",
        "customer_name",
        "customer_email",
        "total",
        "currency",
        "completed_at",
        "tracking_number",
        "tracking_carrier",
        "units",
    }
    for order in orders:
        assert required <= order.keys()
        assert order["currency"] == "EUR"
        assert order["total"].count(".") == 1 and len(order["total"].split(".")[1]) == 2
        assert order["completed_at"].endswith("+00:00")
        assert 1 <= len(order["units"]) <= 5
        for unit in order["units"]:
            assert {"id", "state", "sku", "gtin", "name", "price"} <= unit.keys()
    # Totals are the sum of the unit prices in the sandbox's data.
    cents = sum(int(u["price"].replace(".", "")) for u in orders[0]["units"] if u["price"])
    assert int(orders[0]["total"].replace(".", "")) == cents

    logs = json.loads(letzdesk("logs", "Atelier", "--json", data_dir=tmp_path).stdout)
    assert [(row["imported"], row["unchanged"]) for row in logs] == [(0, 40), (40, 0)]

    listing = json.loads(letzdesk("vendor", "list", "--json", data_dir=tmp_path).stdout)
    assert listing[0]["masked_key"] == KEY[:4] + "****"
    assert listing[0]["orders"] == 40 and "key file" in listing[0]["key_store"]


def test_data_dir_from_environment(tmp_path: Path, sandbox_url: str) -> None:
    env = {"LETZDESK_DATA_DIR": str(tmp_path / "from-env"), "LETZSHOP_API_KEY": KEY}
    added = subprocess.run(
        [sys.executable, "-m", "letzdesk", "vendor", "add", "Env", "--endpoint", sandbox_url],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    assert (tmp_path / "from-env" / "letzdesk.sqlite3").exists()


def test_failures_exit_nonzero_with_one_line(tmp_path: Path, sandbox_url: str) -> None:
    missing = letzdesk("import", "Nobody", data_dir=tmp_path)
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "No vendor named" in missing.stderr

    letzdesk("vendor", "add", "Wrong", "--endpoint", sandbox_url, data_dir=tmp_path, stdin="bad-key-not-real\n")
    refused = letzdesk("import", "Wrong", data_dir=tmp_path)
    assert refused.returncode == 1
    assert "refused the API key" in refused.stderr and "bad-key-not-real" not in refused.stderr

    insecure = letzdesk(
        "vendor", "add", "X", "--endpoint", "http://example.com/graphql", data_dir=tmp_path, stdin="k\n"
    )
    assert insecure.returncode != 0 and "https" in insecure.stderr

    down = letzdesk(
        "vendor",
        "add",
        "Down",
        "--endpoint",
        f"http://127.0.0.1:{_free_port()}/graphql",
        data_dir=tmp_path,
        stdin="k-not-real\n",
    )
    assert down.returncode == 0
    unreachable = letzdesk("import", "Down", data_dir=tmp_path, env={})
    assert unreachable.returncode == 1 and "Cannot reach Letzshop" in unreachable.stderr
