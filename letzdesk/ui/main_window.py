"""The main window: one tab per job, a menu, and a status bar that says what happened last."""

from __future__ import annotations

from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QTabWidget

from .. import __version__
from ..app import Services
from .credentials_tab import CredentialsTab
from .orders_tab import OrdersTab


class MainWindow(QMainWindow):
    def __init__(self, services: Services, *, title_suffix: str = "") -> None:
        super().__init__()
        self.services = services
        self.setWindowTitle(f"letzdesk{title_suffix}")
        self.resize(1280, 760)

        self.orders_tab = OrdersTab(services)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.orders_tab, "Orders")
        self.vendors_tab = CredentialsTab(services)
        self.tabs.addTab(self.vendors_tab, "Vendors")
        self.setCentralWidget(self.tabs)

        sync = QAction("&Sync now", self, shortcut=QKeySequence("Ctrl+R"))
        sync.triggered.connect(lambda: self.orders_tab.start_sync("user"))
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(QApplication.quit)
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(sync)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        about = QAction("&About letzdesk", self)
        about.triggered.connect(self._about)
        self.menuBar().addMenu("&Help").addAction(about)

        self.statusBar().showMessage(f"Data in {services.settings.data_dir} · keys in {services.vault.describe()}")
        self.orders_tab.sync_finished.connect(lambda text: self.statusBar().showMessage(text))
        self.orders_tab.reloaded.connect(self._orders_reloaded)
        self.vendors_tab.vendors_changed.connect(self.orders_tab.reload)
        self.orders_tab.sync_finished.connect(lambda _text: self.vendors_tab.refresh())

    def _orders_reloaded(self, count: int) -> None:
        self.tabs.setTabText(0, f"Orders ({count})")

    def _about(self) -> None:
        QMessageBox.about(
            self,
            "About letzdesk",
            f"<b>letzdesk {__version__}</b><p>Order desk for Letzshop vendors.</p>"
            f"<p>Data: {self.services.settings.data_dir}</p>",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        event.accept()
        QApplication.quit()
