"""Kill the sending process with SIGKILL at random moments: nothing is lost, nothing is sent twice.

The sandbox runs in this process and keeps its own record of every answer and tracking number
it applied. A real ``letzdesk queue --run`` process drains 200 tasks and is killed again and
again; each restart must pick up where the last one died, reading back what it cannot know.
"""

from __future__ import annotations

import os
import random
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
from letzdesk.services.orders import orders_for
from letzdesk.settings import Settings
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def _queue_run(data_dir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LETZDESK_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "letzdesk", "queue", "--run", "--wait", "30", "--json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _done(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "letzdesk.sqlite3") as conn:
        return conn.execute("SELECT count(*) FROM fulfillment_tasks WHERE status = 'done'").fetchone()[0]


def _active(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "letzdesk.sqlite3") as conn:
        return conn.execute(
            "SELECT count(*) FROM fulfillment_tasks WHERE status IN ('pending', 'in_flight')"
        ).fetchone()[0]


def test_sigkill_while_draining_200_tasks_loses_nothing_and_sends_nothing_twice(tmp_path: Path, qloop) -> None:
    rng = random.Random(20261203)
    server = SandboxServer(generate_shipments(140, 11), api_key=TEST_KEY)
    # Slow calls widen the windows where a kill lands between claiming, sending and recording.
    server.state.faults = Faults(latency=(0.02, 0.08), seed=5)
    server.start()
    settings = Settings.load(tmp_path / "data", use_keyring=False)
    services = build(settings)
    try:
        vendor = services.vendors.add("Shop", TEST_KEY, server.url)
        run = qloop.run_until_complete(services.importer.run(vendor, "Shop"))
        assert run.imported == 140

        # 100 confirmed, 40 declined, and tracking on 60 of the confirmed: 200 tasks.
        orders = orders_for(services.db, vendor)
        for order in orders[:100]:
            services.answers.confirm(vendor, order.id)
        for order in orders[100:]:
            services.answers.decline(vendor, order.id, None, "out of stock")
        for number, order in enumerate(orders[:60]):
            services.answers.set_tracking(vendor, order.id, f"LU{number:09d}", "post_lu")
        assert len(services.answers.tasks(vendor)) == 200
        services.close()

        # Each round waits until the process has recorded progress, then kills it a random moment
        # later: the kills land in the middle of the work however slow the machine is.
        kills = 0
        while kills < 12 and _active(settings.data_dir):
            before = _done(settings.data_dir)
            process = _queue_run(settings.data_dir)
            deadline = time.monotonic() + 60
            while process.poll() is None and _done(settings.data_dir) == before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.6))
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            elif process.returncode != 0:
                pytest.fail(process.stderr.read().decode() if process.stderr else "queue --run failed")
            process.wait()
        assert kills >= 5, "the queue drained before the test could kill the worker often enough"

        # Then one run to the end.
        process = _queue_run(settings.data_dir)
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()
        assert _active(settings.data_dir) == 0

        services = build(settings)
        tasks = services.answers.tasks(vendor)
        assert {task.status for task in tasks} == {"done"}, [(t.id, t.status, t.last_error) for t in tasks]

        # Letzshop's own record: every unit answered exactly once, every tracking set exactly once.
        units = [unit for order in orders for unit in order.units]
        counts = server.state.answer_counts()
        assert {unit.unit_id: counts.get(unit.unit_id, 0) for unit in units} == {unit.unit_id: 1 for unit in units}
        assert server.state.tracking_counts() == {order.shipment_id: 1 for order in orders[:60]}

        # And the local view agrees with it.
        for order in orders_for(services.db, vendor):
            remote = server.state.shipment(order.shipment_id)
            assert [u.state for u in order.units] == [u["state"] for u in remote["inventoryUnits"]]
        with sqlite3.connect(settings.data_dir / "letzdesk.sqlite3") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

        # The kills did hit tasks in flight, and those were read back instead of sent again.
        log = (settings.log_dir / "letzdesk.log").read_text(encoding="utf-8")
        recovered = log.count("were being sent when letzdesk stopped")
        read_back = log.count("already on Letzshop; not sent again")
        print(f"killed {kills} times; {recovered} restarts found a task in flight, {read_back} read back")
        assert recovered >= 1
    finally:
        services.close()
        server.stop()
