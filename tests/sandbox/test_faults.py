"""Faults the sandbox injects must look to an HTTP client exactly like the real thing.

Every kind is observed through httpx over loopback: a 429 with Retry-After and a 503 that apply
nothing, and a drop that applies the call and then leaves the client with a transport error, the
"outcome unknown" case the app's retry logic has to get right.
"""

from __future__ import annotations

import logging
import os
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

import letzdesk
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import DEFAULT_KINDS, Faults, InjectedDrop, QuietDrops, parse_faults
from letzdesk.sandbox.server import SandboxServer
from tests.conftest import TEST_KEY

CONFIRM = (files("letzdesk.letzshop") / "documents" / "confirm_inventory_units.graphql").read_text(encoding="utf-8")
SHIPMENTS = "query Shipments { shipments(first: 1) { nodes { id } } }"


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer([], api_key=TEST_KEY) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer) -> SandboxServer:
    """A fresh world on one server per module: starting and stopping uvicorn costs ~0.2 s a test."""
    server.state.reset(generate_shipments(40, 7))
    server.state.faults = None
    return server


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    """One client per module: building one loads the CA bundle, ~50 ms."""
    with httpx.Client(headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=5) as http:
        yield http


def _confirm(client: httpx.Client, sandbox: SandboxServer, unit_id: str) -> httpx.Response:
    variables = {"input": {"inventoryUnits": [{"inventoryUnitId": unit_id, "isAvailable": True}]}}
    body = {"query": CONFIRM, "operationName": "ConfirmInventoryUnits", "variables": variables}
    return client.post(sandbox.url, json=body)


def _first_unit(sandbox: SandboxServer) -> str:
    return sandbox.state.shipments[0]["inventoryUnits"][0]["id"]


def _outcome(client: httpx.Client, url: str, body: dict[str, Any]) -> str:
    """What a client saw: the status code, or the transport error's name."""
    try:
        return str(client.post(url, json=body).status_code)
    except httpx.TransportError as exc:
        return type(exc).__name__


# --- each kind, seen by a client -------------------------------------------------------------------


@pytest.mark.e2e
def test_429_has_retry_after_and_applies_nothing(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.state.faults = Faults(rate=1.0, kinds={"429": 1}, retry_after="7")

    response = _confirm(client, sandbox, _first_unit(sandbox))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.json()["errors"][0]["message"]
    assert sandbox.state.answer_counts() == {}
    assert sandbox.state.faults.counts() == {"429": 1, "5xx": 0, "drop": 0}


@pytest.mark.e2e
def test_5xx_is_a_503_that_applies_nothing(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1})

    response = _confirm(client, sandbox, _first_unit(sandbox))

    assert response.status_code == 503
    assert sandbox.state.unit(_first_unit(sandbox))["state"] == "unconfirmed"  # type: ignore[index]
    assert sandbox.state.faults.counts()["5xx"] == 1


@pytest.mark.e2e
def test_drop_applies_the_call_then_breaks_the_connection_quietly(
    sandbox: SandboxServer, client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    sandbox.state.faults = Faults(rate=1.0, kinds={"drop": 1})
    unit_id = _first_unit(sandbox)

    with caplog.at_level(logging.DEBUG), pytest.raises(httpx.RemoteProtocolError) as raised:
        _confirm(client, sandbox, unit_id)
    sandbox.state.faults = None
    after = _confirm(client, sandbox, unit_id)  # the same client reconnects

    assert isinstance(raised.value, httpx.TransportError)
    assert "complete message body" in str(raised.value)
    assert sandbox.state.answers(unit_id) == [True, True]
    assert after.json()["data"]["confirmInventoryUnits"]["errors"] == []
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.e2e
def test_a_streaming_async_client_sees_the_drop_too(sandbox: SandboxServer) -> None:
    """The app reads answers with an AsyncClient stream; the break must surface there as well."""
    import asyncio

    sandbox.state.faults = Faults(rate=1.0, kinds={"drop": 1})

    async def read() -> None:
        async with (
            httpx.AsyncClient(headers={"Authorization": f"Bearer {TEST_KEY}"}, timeout=5) as http,
            http.stream("POST", sandbox.url, json={"query": SHIPMENTS}) as response,
        ):
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                pass

    with pytest.raises(httpx.RemoteProtocolError):
        asyncio.run(read())


@pytest.mark.e2e
def test_latency_delays_each_call(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.state.faults = Faults(latency=(0.03, 0.04))

    started = time.perf_counter()
    response = client.post(sandbox.url, json={"query": SHIPMENTS})
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed >= 0.03
    assert sandbox.state.faults.calls() == 1


@pytest.mark.e2e
def test_rate_zero_means_no_faults(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.state.faults = Faults(rate=0.0)

    outcomes = {_outcome(client, sandbox.url, {"query": SHIPMENTS}) for _ in range(25)}

    assert outcomes == {"200"}
    assert sandbox.state.faults.calls() == 25
    assert sandbox.state.faults.counts() == dict.fromkeys(DEFAULT_KINDS, 0)


@pytest.mark.e2e
def test_refused_keys_are_answered_before_any_fault(sandbox: SandboxServer) -> None:
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1}, latency=1.0)

    response = httpx.post(sandbox.url, json={"query": SHIPMENTS}, headers={"Authorization": "Bearer wrong"}, timeout=5)

    assert response.status_code == 401
    assert sandbox.state.faults.calls() == 0


@pytest.mark.e2e
def test_the_same_seed_replays_the_same_outcomes(sandbox: SandboxServer, client: httpx.Client) -> None:
    def run(seed: int) -> list[str]:
        sandbox.state.faults = Faults(rate=0.5, seed=seed)
        return [_outcome(client, sandbox.url, {"query": SHIPMENTS}) for _ in range(24)]

    first, again, other = run(3), run(3), run(4)

    assert first == again
    assert first != other
    assert set(first) == {"200", "429", "503", "RemoteProtocolError"}


@pytest.mark.e2e
def test_operations_limit_the_faults(sandbox: SandboxServer, client: httpx.Client) -> None:
    sandbox.state.faults = Faults(rate=1.0, kinds={"5xx": 1}, operations=frozenset({"ConfirmInventoryUnits"}))

    shipments = client.post(sandbox.url, json={"query": SHIPMENTS, "operationName": "Shipments"})
    unnamed = client.post(sandbox.url, json={"query": SHIPMENTS})
    confirm = _confirm(client, sandbox, _first_unit(sandbox))

    assert (shipments.status_code, unnamed.status_code, confirm.status_code) == (200, 200, 503)
    assert sandbox.state.faults.calls() == 1


# --- the Faults object -----------------------------------------------------------------------------


def test_draws_do_not_depend_on_latency_or_weights() -> None:
    plain = Faults(rate=0.4, seed=9)
    slow = Faults(rate=0.4, seed=9, latency=(0.1, 0.2))

    plain_kinds = [plain.draw(None)[1] for _ in range(200)]  # type: ignore[index]
    slow_draws = [slow.draw(None) for _ in range(200)]

    assert plain_kinds == [draw[1] for draw in slow_draws]  # type: ignore[index]
    assert all(0.1 <= draw[0] <= 0.2 for draw in slow_draws)  # type: ignore[index]
    assert plain.counts() == slow.counts()
    assert 40 < sum(plain.counts().values()) < 120


def test_kind_weights_are_respected() -> None:
    only_drops = Faults(rate=1.0, kinds={"429": 0, "drop": 2})
    even = Faults(rate=1.0)

    for _ in range(300):
        only_drops.draw("X")
        even.draw("X")

    assert only_drops.counts() == {"429": 0, "5xx": 0, "drop": 300}
    assert all(60 < count < 140 for count in even.counts().values())


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rate": 1.5}, "rate must be between 0 and 1"),
        ({"rate": float("nan")}, "rate must be between 0 and 1"),
        ({"kinds": {"404": 1}}, "unknown fault kind '404'"),
        ({"kinds": {"drop": -1}}, "not negative"),
        ({"rate": 0.5, "kinds": {"drop": 0}}, "at least one kind"),
        ({"latency": (0.2, 0.1)}, "latency must be"),
        ({"latency": -1.0}, "latency must be"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Faults(**settings)


def test_operations_must_be_a_set_of_names() -> None:
    with pytest.raises(TypeError, match="not one string"):
        Faults(operations="Shipments")  # type: ignore[arg-type]


def test_only_injected_drops_are_kept_out_of_the_log() -> None:
    def record(error: Exception) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.error", logging.ERROR, __file__, 1, "boom", None, (type(error), error, None))

    quiet = QuietDrops()

    assert quiet.filter(record(InjectedDrop("on purpose"))) is False
    assert quiet.filter(record(RuntimeError("a sandbox bug"))) is True


# --- the command-line spec ---------------------------------------------------------------------------


def test_parse_a_full_spec() -> None:
    faults = parse_faults(
        "rate=0.33, kinds=429:1+5xx:2+drop:1, latency=0.05-0.2, retry_after=1, seed=3, operations=A+Bc_2"
    )

    assert faults.rate == 0.33
    assert faults.kinds == {"429": 1.0, "5xx": 2.0, "drop": 1.0}
    assert faults.latency == (0.05, 0.2)
    assert (faults.retry_after, faults.seed) == ("1", 3)
    assert faults.operations == frozenset({"A", "Bc_2"})
    assert faults.describe() == "33% of calls fail (429:1 5xx:2 drop:1), latency 0.05-0.2 s, only A+Bc_2, seed 3"


def test_parse_short_specs() -> None:
    assert parse_faults("rate=0.1").kinds == dict.fromkeys(DEFAULT_KINDS, 1.0)
    assert parse_faults("rate=1,kinds=drop+429").kinds == {"drop": 1.0, "429": 1.0}
    assert parse_faults("latency=0.02,").latency == 0.02
    assert parse_faults("latency=0.02").describe() == "0% of calls fail, latency 0.02 s, seed 0"
    assert parse_faults("rate=0.2,seed=5") == Faults(rate=0.2, seed=5)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "nothing given"),
        ("rate", "expected key=value, got 'rate'"),
        ("rate=", "expected key=value"),
        ("speed=2", "unknown key 'speed'"),
        ("rate=0.1,rate=0.2", "'rate' given twice"),
        ("rate=lots", "rate must be a number, got 'lots'"),
        ("rate=2", "rate must be between 0 and 1"),
        ("rate=inf", "rate must be a finite number"),
        ("kinds=404", "unknown fault kind '404'"),
        ("kinds=drop+drop", "fault kind 'drop' given twice"),
        ("kinds=drop:x", "the weight of drop must be a number"),
        ("rate=0.5,kinds=drop:0", "at least one kind"),
        ("latency=0.2-0.1", "latency must be"),
        ("latency=-1", "latency must be seconds >= 0 or a range low-high, got '-1'"),
        ("latency=fast", "latency must be a number"),
        ("retry_after=soon", "retry_after must be whole seconds"),
        ("seed=1.5", "seed must be a whole number"),
        ("operations=Bad-Name", "not a GraphQL operation name"),
    ],
)
def test_parse_refuses_bad_specs_clearly(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        parse_faults(spec)

    assert str(raised.value).startswith(f"fault spec {spec!r}: ")


# --- the sandbox command --------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM semantics are POSIX")
def test_run_with_faults_reports_them_and_keeps_stderr_clean() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(letzdesk.__file__).resolve().parents[1])}
    script = (
        "from letzdesk.sandbox.faults import parse_faults; from letzdesk.sandbox import run; "
        "run('127.0.0.1', 0, 3, 3, None, faults=parse_faults('rate=1,kinds=drop'))"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            ready, _, _ = select.select([process.stdout], [], [], 10)
            assert ready, "no banner within 10 s"
            banner = process.stdout.readline()  # type: ignore[union-attr]
            faults_line = process.stdout.readline()  # type: ignore[union-attr]
            url = banner.split()[2]
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.post(url, json={"query": SHIPMENTS}, timeout=5)

            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 0
    assert stderr == ""
    assert faults_line == "Faults: 100% of calls fail (drop:1), seed 0\n"
    assert stdout == "Faults injected in 1 calls: 429 x0, 5xx x0, drop x1\n"
