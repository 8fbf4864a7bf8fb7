"""Test setup: offscreen Qt, no OS keyring, a fresh data dir per test, a qasync loop fixture."""

from __future__ import annotations

import os

# Before anything imports Qt or keyring.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
os.environ.pop("LETZDESK_DATA_DIR", None)
os.environ.pop("LETZSHOP_API_KEY", None)

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from letzdesk.app import Services, build
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.server import SandboxServer
from letzdesk.settings import Settings

#: Obviously fake; a real Letzshop key never belongs in a fixture.
TEST_KEY = "test-key-not-real-0000"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.load(tmp_path / "data", use_keyring=False, request_deadline=10.0)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build(settings)
    yield built
    built.close()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(generate_shipments(40, 7), api_key=TEST_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def _session_qloop(qapp):  # type: ignore[no-untyped-def]
    """One qasync loop for the whole run: closing a qasync loop leaves Qt objects behind, and a
    new loop per test let their late events reach freed objects (an occasional segfault)."""
    import qasync

    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()


@pytest.fixture
def qloop(_session_qloop):  # type: ignore[no-untyped-def]
    """The asyncio loop that is the Qt loop, as in the application."""
    loop = _session_qloop
    asyncio.set_event_loop(loop)
    yield loop
    # A test that failed midway may leave tasks that still touch its widgets: finish them here,
    # while the widgets exist, instead of letting them run against deleted Qt objects later.
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    asyncio.set_event_loop(None)
