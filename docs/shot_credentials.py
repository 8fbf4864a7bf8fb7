"""Regenerate docs/screenshots/credentials.png: the Vendors tab with one working and one refused key.

QT_QPA_PLATFORM=offscreen python docs/shot_credentials.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

# isort: split
import qasync  # after PySide6, so qasync binds to it

from letzdesk.app import Services, prepare_demo
from letzdesk.ui.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots"
WORKING, REFUSED = "Atelier Mëller", "Brasserie Schëtter"


def add_vendors(services: Services, endpoint: str) -> None:
    """The demo vendor becomes the atelier; the brasserie gets a key the sandbox refuses."""
    demo_id = next(iter(services.vendors.names()))
    services.vendors.edit(demo_id, name=WORKING, auto_sync=True, interval_minutes=30, default_carrier="post_lu")
    services.vendors.add(
        REFUSED, "bras-old-key-revoked-0000", endpoint, auto_sync=True, interval_minutes=60, default_carrier="dpd"
    )


async def shoot(window: MainWindow) -> None:
    window.show()
    await window.orders_tab.start_sync("startup")
    tab = window.vendors_tab
    window.tabs.setCurrentWidget(tab)
    await tab.reload()

    # Test both connections, ending on the one that failed: its detail is the interesting one.
    for name in (WORKING, REFUSED):
        vendor_id = next(v.id for v in window.services.vendors.list() if v.name == name)
        tab.select_id(vendor_id)
        task = tab.start_test()
        if task is not None:
            await task
    await asyncio.sleep(0.3)

    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "credentials.png"))
    print(f"wrote {OUT / 'credentials.png'}")


def main() -> int:
    app = QApplication(sys.argv[:1])
    demo, services = prepare_demo()
    try:
        add_vendors(services, demo.sandbox.url)  # type: ignore[attr-defined]
        window = MainWindow(services, title_suffix=" — demo")
        window.resize(1280, 760)
        loop = qasync.QEventLoop(app)
        with loop:
            loop.run_until_complete(shoot(window))
    finally:
        services.close()
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
