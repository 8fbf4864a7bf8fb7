"""vendor add/edit/remove/list/test/test-key and keys rotate, through the real command-line entry point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from letzdesk.cli import main
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.server import SandboxServer
from tests.conftest import TEST_KEY


@pytest.fixture
def drifted() -> Iterator[SandboxServer]:
    server = SandboxServer(generate_shipments(5, 3), api_key=TEST_KEY, drift=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    def run(*args: str, key: str | None = None) -> tuple[int, str, str]:
        if key is None:
            monkeypatch.delenv("LETZSHOP_API_KEY", raising=False)
        else:
            monkeypatch.setenv("LETZSHOP_API_KEY", key)
        code = main([*args, "--data-dir", str(tmp_path / "data")])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_test_reports_success_and_time(cli, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    assert cli("vendor", "add", "Atelier", "--endpoint", sandbox.url, key=TEST_KEY)[0] == 0
    code, out, _ = cli("vendor", "test", "Atelier")
    assert code == 0 and "Connected in" in out and " ms" in out
    code, out, _ = cli("vendor", "test", "Atelier", "--json")
    report = json.loads(out)
    assert report["ok"] and report["elapsed_ms"] >= 0 and report["schema_checked"] and report["drift"] == []


def test_wrong_key_exits_nonzero_and_says_refused(cli, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("vendor", "test-key", "--endpoint", sandbox.url, key="wrong-key-not-real")
    assert code == 1 and "refused this API key" in err and "wrong-key-not-real" not in out + err
    cli("vendor", "add", "Wrong", "--endpoint", sandbox.url, key="wrong-key-not-real")
    code, _, err = cli("vendor", "test", "Wrong")
    assert code == 1 and "refused" in err


def test_drift_is_named_and_recorded(cli, drifted: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    cli("vendor", "add", "Atelier", "--endpoint", drifted.url, key=TEST_KEY)
    code, _, err = cli("vendor", "test", "Atelier")
    assert code == 1
    assert "Unknown argument 'after' on field 'Query.shipments'" in err
    assert "Cannot query field 'tradeId' on type 'Variant'" in err
    listed = json.loads(cli("vendor", "list", "--json")[1])[0]
    assert len(listed["schema_drift"]) == 2 and listed["schema_checked_at"]


def test_drift_puts_answers_on_hold_until_a_test_passes(services, sandbox, drifted) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from letzdesk.services.connection import test_vendor

    vendor_id = services.vendors.add("Atelier", TEST_KEY, drifted.url)
    assert services.vendors.answers_on_hold(vendor_id) is None  # never checked: nothing known against it
    assert not asyncio.run(test_vendor(services.vendors, vendor_id)).ok
    assert "2 mismatch" in services.vendors.answers_on_hold(vendor_id)
    services.vendors.edit(vendor_id, endpoint=sandbox.url)
    assert asyncio.run(test_vendor(services.vendors, vendor_id)).ok
    assert services.vendors.answers_on_hold(vendor_id) is None


def test_edit_validates_and_changes(cli, sandbox: SandboxServer, drifted: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    cli("vendor", "add", "Atelier", "--endpoint", drifted.url, key=TEST_KEY)
    cli("vendor", "test", "Atelier")
    code, _, err = cli("vendor", "edit", "Atelier", "--interval", "3")
    assert code == 1 and "5 to 1440 minutes" in err
    code, _, _ = cli(
        "vendor",
        "edit",
        "Atelier",
        "--rename",
        "Atelier Mëller",
        "--endpoint",
        sandbox.url,
        "--interval",
        "60",
        "--auto-sync",
        "--carrier",
        "post_lu",
    )
    assert code == 0
    listed = json.loads(cli("vendor", "list", "--json")[1])[0]
    assert (
        listed["name"],
        listed["endpoint"],
        listed["interval_minutes"],
        listed["auto_sync"],
        listed["default_carrier"],
    ) == ("Atelier Mëller", sandbox.url, 60, True, "post_lu")
    assert listed["schema_drift"] == [] and listed["schema_checked_at"] is None  # a new endpoint needs a new check
    assert cli("vendor", "test", "Atelier Mëller")[0] == 0

    assert cli("vendor", "edit", "Atelier Mëller", "--new-key", key="other-key-not-real")[0] == 0
    code, _, err = cli("vendor", "test", "Atelier Mëller")
    assert code == 1 and "refused" in err


def test_insecure_endpoint_refused(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("vendor", "add", "X", "--endpoint", "http://example.com/graphql", key=TEST_KEY)
    assert code == 1 and "plain http" in err and "https://" in err
    assert json.loads(cli("vendor", "list", "--json")[1]) == []


def test_remove_needs_confirmation_and_keeps_the_log(cli, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    cli("vendor", "add", "Atelier", "--endpoint", sandbox.url, key=TEST_KEY)
    assert cli("import", "Atelier")[0] == 0
    code, _, err = cli("vendor", "remove", "Atelier")  # no terminal: refuses without --yes
    assert code == 2 and "40 orders" in err and "Add --yes" in err
    code, out, _ = cli("vendor", "remove", "Atelier", "--yes")
    assert code == 0 and "40 orders deleted" in out
    assert json.loads(cli("vendor", "list", "--json")[1]) == []
    logs = json.loads(cli("logs", "--json")[1])
    assert len(logs) == 1 and logs[0]["vendor_name"] == "Atelier"


def test_keys_rotate_keeps_every_key_readable(cli, sandbox: SandboxServer) -> None:  # type: ignore[no-untyped-def]
    cli("vendor", "add", "A", "--endpoint", sandbox.url, key=TEST_KEY)
    cli("vendor", "add", "B", "--endpoint", sandbox.url, key="second-key-not-real")
    before = {v["name"]: v["masked_key"] for v in json.loads(cli("vendor", "list", "--json")[1])}
    code, out, _ = cli("keys", "rotate")
    assert code == 0 and "Re-encrypted 2" in out
    after = {v["name"]: v["masked_key"] for v in json.loads(cli("vendor", "list", "--json")[1])}
    assert after == before == {"A": "test****", "B": "seco****"}
    assert cli("vendor", "test", "A")[0] == 0
