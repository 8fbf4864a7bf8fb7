"""Regenerate docs/screenshots/logs.png: the Logs tab with a month of runs and a failed one selected.

QT_QPA_PLATFORM=offscreen python docs/shot_logs.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

# isort: split
import qasync  # after PySide6, so qasync binds to it

from letzdesk.app import Services, build
from letzdesk.services import synclog
from letzdesk.services.synclog import SyncRun
from letzdesk.settings import Settings
from letzdesk.store.types import utcnow
from letzdesk.ui.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots"
ENDPOINT = "http://127.0.0.1:9/graphql"
ATELIER, BRASSERIE = "Atelier Mëller", "Brasserie Schëtter"
IMPORT, SEND = "import orders", "send answers"

#: (vendor, operation, hours ago, seconds taken, trigger, fields of the run)
RUNS = [
    (ATELIER, IMPORT, 0.3, 2.4, "scheduler", {"imported": 3, "updated": 1, "unchanged": 58}),
    (ATELIER, SEND, 0.5, 0.8, "user", {"updated": 4}),
    (BRASSERIE, IMPORT, 1.2, 31.0, "scheduler", {"error": "Letzshop refused the API key: it was revoked or mistyped."}),
    (
        ATELIER,
        IMPORT,
        6,
        3.1,
        "startup",
        {
            "imported": 12,
            "updated": 3,
            "unchanged": 40,
            "failed": 1,
            "details": [{"shipment": "H7Q2KX", "error": "The address has no country."}],
        },
    ),
    (
        BRASSERIE,
        SEND,
        8,
        1.6,
        "user",
        {
            "updated": 5,
            "failed": 2,
            "details": [
                {"task": 41, "shipment": "B3XW9A", "error": "Letzshop says the unit is already confirmed."},
                {"task": 42, "shipment": "B3XW9A", "error": "Tracking number is not valid for carrier dpd."},
            ],
        },
    ),
    (ATELIER, IMPORT, 24, 2.0, "scheduler", {"unchanged": 61}),
    (BRASSERIE, IMPORT, 30, 95.0, "scheduler", {"imported": 40, "unchanged": 12}),
    (ATELIER, SEND, 50, 0.4, "user", {"updated": 2}),
    (BRASSERIE, IMPORT, 72, 12.5, "cli", {"error": "Letzshop did not answer within 30 seconds."}),
    (ATELIER, IMPORT, 120, 1.8, "scheduler", {"imported": 2, "unchanged": 57}),
    (BRASSERIE, IMPORT, 200, 4.2, "startup", {"imported": 7, "updated": 2, "unchanged": 30}),
    (ATELIER, IMPORT, 400, 2.2, "scheduler", {"imported": 5, "unchanged": 50}),
]


def record_runs(services: Services) -> int:
    """Write the runs above; returns the id of the failed import to select."""
    vendor_ids = {name: services.vendors.add(name, "shot-key-not-real-0000", ENDPOINT) for name in (ATELIER, BRASSERIE)}
    selected = 0
    for name, operation, hours_ago, seconds, trigger, fields in RUNS:
        direction = "outbound" if operation == SEND else "inbound"
        started = utcnow() - timedelta(hours=hours_ago)
        run = SyncRun(vendor_ids[name], name, operation, direction, trigger, started_at=started)
        for key, value in fields.items():
            setattr(run, key, value)
        row = synclog.record(services.db, run)
        with services.db.write_session() as session:
            stored = session.get(type(row), row.id)
            stored.duration_ms = int(seconds * 1000)  # type: ignore[union-attr]
        if row.status == synclog.FAILED and not selected:
            selected = row.id
    return selected


async def shoot(window: MainWindow, selected: int) -> None:
    window.show()
    tab = window.logs_tab
    window.tabs.setCurrentWidget(tab)
    await tab.reload()
    tab.select_id(selected)
    await asyncio.sleep(0.3)

    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "logs.png"))
    print(f"wrote {OUT / 'logs.png'}")


def main() -> int:
    app = QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        services = build(Settings.load(Path(tmp), use_keyring=False))
        try:
            selected = record_runs(services)
            window = MainWindow(services, title_suffix=" — demo")
            window.resize(1280, 760)
            loop = qasync.QEventLoop(app)
            with loop:
                loop.run_until_complete(shoot(window, selected))
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
