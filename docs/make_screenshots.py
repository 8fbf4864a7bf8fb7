"""Regenerate the screenshots under docs/screenshots from the real window on the demo data.

QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py

Answers go through the same buttons and dialogs a vendor uses; the sandbox is told to refuse
one answer and to rate-limit another, so the write-back column and the queue show every state.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

# isort: split
import qasync  # after PySide6, so qasync binds to it

from letzdesk.app import prepare_demo
from letzdesk.sandbox.faults import Faults
from letzdesk.sandbox.server import SandboxServer
from letzdesk.ui.answer_dialogs import DeclineDialog, TrackingDialog
from letzdesk.ui.main_window import MainWindow
from letzdesk.ui.orders_model import ITEMS, ROW_ROLE, OrderRow

OUT = Path(__file__).resolve().parent / "screenshots"


def save(pixmap: QPixmap, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    pixmap.save(str(OUT / name))
    print(f"wrote {OUT / name}")


def with_dialog(window: QWidget, dialog: QWidget, over: QWidget) -> QPixmap:
    """The window, dimmed, with the dialog drawn over ``over`` (offscreen, a grab shows one widget),
    leaving the rest of the window readable."""
    shot = window.grab()
    face = dialog.grab()
    painter = QPainter(shot)
    painter.fillRect(shot.rect(), QColor(0, 0, 0, 40))
    area = QRect(over.mapTo(window, QPoint(0, 0)), over.size())
    top_left = QPoint(area.center().x() - face.width() // 2, area.bottom() - face.height() - area.height() // 6)
    painter.fillRect(QRect(top_left + QPoint(4, 4), face.size()), QColor(0, 0, 0, 60))  # shadow
    painter.drawPixmap(top_left, face)
    painter.setPen(QColor("#8a8a8a"))
    painter.drawRect(QRect(top_left, face.size()).adjusted(0, 0, -1, -1))
    painter.end()
    return shot


async def settle(window: MainWindow) -> None:
    """Until the answer is queued, its drain has ended and the tables are read again."""
    if window.orders_tab.actions.task is not None:
        await window.orders_tab.actions.task
    await window.answer_sender.wait_idle()
    await window.orders_tab.reload()
    await window.queue_tab.reload()


def rows_on_screen(window: MainWindow) -> list[OrderRow]:
    """Orders in table order (newest first), so the answered ones are the ones in the picture."""
    proxy = window.orders_tab.proxy
    return [proxy.index(r, 0).data(ROW_ROLE) for r in range(proxy.rowCount())]


async def answer_some(window: MainWindow, sandbox: SandboxServer) -> OrderRow:
    """Confirm, decline, track, and provoke a refusal and a rate limit; returns the mixed order."""
    tab, actions = window.orders_tab, window.orders_tab.actions
    rows = rows_on_screen(window)
    # Several items, each with its product data: the picture should not show a sparse one.
    mixed = next(row for row in rows if row.items >= 3 and all(u.name and u.sku for u in row.order.units))
    others = [row for row in rows if row.pk != mixed.pk][:8]

    # The mixed order: all but the last item confirmed, the last declined.
    units = [unit.unit_id for unit in mixed.order.units]
    tab.select_pk(mixed.pk)
    tab.detail.set_checked(units[:-1])
    actions.confirm_units(tab.detail.checked_units())
    await settle(window)
    dialog = actions.decline_units(units[-1:])
    assert isinstance(dialog, DeclineDialog)
    dialog.reason.setText("Out of stock")
    dialog.accept()
    await settle(window)

    # Two confirmed, one of them tracked; one declined whole.
    for row in others[:2]:
        tab.select_pk(row.pk)
        actions.confirm_all()
        await settle(window)
    tab.select_pk(others[0].pk)
    tracking = actions.set_tracking()
    assert isinstance(tracking, TrackingDialog)
    tracking.numbers[others[0].pk].setText("lu 0042 7710 3")
    tracking.accept()
    await settle(window)
    tab.select_pk(others[2].pk)
    declined = actions.decline_all()
    assert isinstance(declined, DeclineDialog)
    declined.reason.setText("Discontinued")
    declined.accept()
    await settle(window)

    # Letzshop already has another answer for one order: the confirmation is refused.
    refused = next(s for s in sandbox.state.shipments if s["id"] == others[3].order.shipment_id)
    for unit in refused["inventoryUnits"]:
        unit["state"] = "confirmed_unavailable"
    sandbox.state.touch(reindex=False)
    tab.select_pk(others[3].pk)
    actions.confirm_all()
    await settle(window)

    # Letzshop asks to slow down: the answer waits for its retry time.
    sandbox.state.faults = Faults(
        rate=1.0, kinds={"429": 1.0}, retry_after="900", operations=frozenset({"ConfirmInventoryUnits"})
    )
    tab.select_pk(others[4].pk)
    actions.confirm_all()
    await settle(window)
    sandbox.state.faults = None
    return mixed


async def shoot(window: MainWindow, sandbox: SandboxServer) -> None:
    window.show()
    await window.orders_tab.start_sync("startup")
    tab = window.orders_tab
    mixed = await answer_some(window, sandbox)

    # The orders tab on a multi-item order still waiting for its answer.
    waiting = next(
        r
        for r in range(tab.proxy.rowCount())
        if tab.proxy.index(r, ITEMS).data() not in ("1", None)
        and tab.proxy.index(r, 0).data(ROW_ROLE).status == "pending"
        and tab.proxy.index(r, 0).data(ROW_ROLE).writeback is None
    )
    tab.table.selectRow(waiting)
    tab.actions.set_note("")
    await asyncio.sleep(0.3)
    save(window.grab(), "orders.png")

    # The mixed order, with the tracking dialog open on it.
    tab.select_pk(mixed.pk)
    await asyncio.sleep(0.1)
    dialog = tab.actions.set_tracking()
    assert isinstance(dialog, TrackingDialog)
    dialog.numbers[mixed.pk].setText("LU00427710")
    await asyncio.sleep(0.3)
    save(with_dialog(window, dialog, tab.table), "order-answering.png")
    dialog.reject()

    # The decline dialog on its own.
    tab.table.selectRow(waiting)
    tab.detail.set_checked([tab.detail.row.order.units[0].unit_id])  # type: ignore[union-attr]
    decline = tab.actions.decline_units(tab.detail.checked_units())
    assert isinstance(decline, DeclineDialog)
    decline.reason.setText("Out of stock")
    await asyncio.sleep(0.3)
    save(decline.grab(), "decline-dialog.png")
    decline.reject()

    # The queue, with the refused answer selected.
    queue = window.queue_tab
    window.tabs.setCurrentWidget(queue)
    await queue.reload()
    for r in range(queue.proxy.rowCount()):
        if queue.proxy.index(r, 0).data(ROW_ROLE).status == "failed":
            queue.table.selectRow(r)
    await asyncio.sleep(0.3)
    save(window.grab(), "queue.png")


def main() -> int:
    app = QApplication(sys.argv[:1])
    demo, services = prepare_demo()
    try:
        vendor_id = next(iter(services.vendors.names()))
        services.vendors.edit(vendor_id, default_carrier="post_lu")
        window = MainWindow(services, title_suffix=" — demo")
        window.resize(1280, 760)
        loop = qasync.QEventLoop(app)
        with loop:
            loop.run_until_complete(shoot(window, demo.sandbox))  # type: ignore[arg-type]
            loop.run_until_complete(window.shutdown())
    finally:
        services.close()
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
