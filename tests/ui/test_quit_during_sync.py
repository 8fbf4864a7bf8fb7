"""Quitting while a sync waits on a Letzshop that never answers: exit 0 within 5 seconds, every time."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from letzdesk.app import build
from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.settings import Settings
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM is POSIX")

NOISE = ("Event loop is closed", "Task was destroyed", "QThread: Destroyed", "Traceback")


def test_quit_twenty_times_during_a_hung_sync(tmp_path: Path) -> None:
    server = SandboxServer(generate_shipments(5, 1), api_key=TEST_KEY)
    server.state.faults = Faults(latency=3600.0, operations=frozenset({"Shipments"}))  # never answers
    server.start()
    data_dir = tmp_path / "data"
    services = build(Settings.load(data_dir, use_keyring=False))
    services.vendors.add("Shop", TEST_KEY, server.url, auto_sync=True)
    services.close()
    log = data_dir / "logs" / "letzdesk.log"

    def starts() -> int:
        text = log.read_text(encoding="utf-8") if log.exists() else ""
        return text.count("Import of unconfirmed shipments for Shop started")

    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    try:
        for round_ in range(20):
            # The stopped sync of the last round counts as the last sync: make the vendor due again.
            with sqlite3.connect(data_dir / "letzdesk.sqlite3") as conn:
                conn.execute("UPDATE credentials SET last_sync_at = NULL")
            before = starts()
            window = subprocess.Popen(
                [sys.executable, "-m", "letzdesk", "--data-dir", str(data_dir)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            # Quit once the startup sync is on its way (it will never get an answer).
            deadline = time.monotonic() + 60
            while starts() == before:
                assert window.poll() is None, window.communicate()
                assert time.monotonic() < deadline, "the startup sync never began"
                time.sleep(0.05)
            time.sleep(0.2)
            asked = time.monotonic()
            window.send_signal(signal.SIGTERM)
            try:
                _out, err = window.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                window.kill()
                pytest.fail(f"round {round_}: still running 5 s after the quit")
            took = time.monotonic() - asked
            assert window.returncode == 0, (round_, err)
            assert took < 5, (round_, took)
            assert not [line for line in err.splitlines() if any(noise in line for noise in NOISE)], err
    finally:
        server.stop()
    # Every interrupted sync left its row: stopped, not lost.
    services = build(Settings.load(data_dir, use_keyring=False))
    try:
        stopped = [row for row in services.vendors.list() if row.name == "Shop"]
        assert stopped and stopped[0].last_sync_status == "failed"
    finally:
        services.close()


def test_closing_the_window_or_quit_asks_to_quit_and_auto_sync_says_what_came(qtbot, qloop, services) -> None:  # type: ignore[no-untyped-def]
    from letzdesk.services.synclog import SyncRun
    from letzdesk.ui.main_window import MainWindow

    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.quit_requested, timeout=1000):
        window.close()

    run = SyncRun(1, "Shop", "import orders", "inbound", "scheduler")
    run.imported = 3
    broken = SyncRun(2, "Atelier", "import orders", "inbound", "scheduler")
    broken.error = "Letzshop refused the API key."
    window.auto_synced([run, broken])  # on the loop, as the timer calls it: it reloads the tables
    assert window.statusBar().currentMessage() == "Auto-sync: 3 new orders; failed for Atelier"
    qloop.run_until_complete(window.orders_tab.reload())


def test_status_line_says_when_each_vendor_syncs_next_and_what_failed(qtbot, qloop, services, sandbox) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from letzdesk.services.autosync import AutoSync
    from letzdesk.services.synclog import SyncRun, record
    from letzdesk.store.types import utcnow
    from letzdesk.ui.main_window import MainWindow

    window = MainWindow(services)
    qtbot.addWidget(window)
    qloop.run_until_complete(window.refresh_status_line())
    assert window.status_line.text() == "Auto-sync off"

    shop = services.vendors.add("Shop", TEST_KEY, sandbox.url, auto_sync=True, interval_minutes=30)
    services.vendors.add("Atelier", TEST_KEY, sandbox.url, auto_sync=True)
    synced = SyncRun(shop, "Shop", "import orders", "inbound", "scheduler")
    record(services.db, synced, finished=utcnow() - timedelta(minutes=10))
    window.autosync = AutoSync(services.db, services.importer)
    qloop.run_until_complete(window.refresh_status_line())
    shop_next = next(entry.next_at for entry in window.autosync.schedule() if entry.name == "Shop")
    assert abs(shop_next - (utcnow() + timedelta(minutes=20))) < timedelta(seconds=30)
    when = shop_next.astimezone().strftime("%H:%M")
    assert window.status_line.text() == f"Next sync: Atelier now, Shop {when}"
    qloop.run_until_complete(window.shutdown())
