"""Regenerate the screenshots under docs/screenshots from the real window on the demo data.

QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import qasync
from PySide6.QtWidgets import QApplication

from letzdesk.app import prepare_demo
from letzdesk.ui.main_window import MainWindow

OUT = Path(__file__).resolve().parent / "screenshots"


async def shoot(window: MainWindow) -> None:
    window.show()
    await window.orders_tab.start_sync("startup")
    tab = window.orders_tab
    # A multi-unit order makes the detail pane worth looking at.
    for row in range(tab.proxy.rowCount()):
        if tab.proxy.index(row, 3).data() not in ("1", None):
            tab.table.selectRow(row)
            break
    await asyncio.sleep(0.3)
    OUT.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(OUT / "orders.png"))
    print(f"wrote {OUT / 'orders.png'}")


def main() -> int:
    app = QApplication(sys.argv[:1])
    demo, services = prepare_demo()
    try:
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
