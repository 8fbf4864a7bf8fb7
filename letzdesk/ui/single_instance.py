"""One window per data dir: a second start with the same data dir shows the first window and ends.

The first instance holds a lock file in the data dir for as long as it runs and listens on a
local socket (QLocalServer) whose name is derived from the data dir. A later start that cannot
take the lock connects to that socket, asks for the window and exits. The lock, not the socket,
decides who runs: two starts at the same moment cannot both win it, and a lock left by a crashed
instance is taken over (Qt checks whether its process still runs), after which the crashed
instance's socket file is removed before listening again.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QWidget

logger = logging.getLogger(__name__)

LOCK_NAME = "letzdesk.lock"
SHOW = b"show\n"
ACK = b"ok\n"
#: How long a second start tries to reach the first one, and then waits for its answer (ms).
CONNECT_BUDGET_MS = 2000
ACK_TIMEOUT_MS = 2000


def server_name(data_dir: Path) -> str:
    """Short and filesystem-safe: on Unix the name becomes a socket file in the temp dir."""
    return "letzdesk-" + hashlib.sha256(str(data_dir).encode("utf-8")).hexdigest()[:16]


class SingleInstance(QObject):
    """Claim the data dir for this process, or hand the start over to the process that has it."""

    #: Another letzdesk with the same data dir asked for the window.
    show_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = server_name(data_dir)
        self._lock = QLockFile(str(data_dir / LOCK_NAME))
        # The lock is held for the whole run, so its age says nothing; only a dead owner makes it stale.
        self._lock.setStaleLockTime(0)
        self._server: QLocalServer | None = None
        #: After a failed ``claim``: whether the first letzdesk answered and is showing its window.
        self.answered = False

    def claim(self) -> bool:
        """True when this process is the first with the data dir and now listens for later starts.
        False when another process has it; it has then been asked to show its window."""
        if self._lock.tryLock(0):
            self._listen()
            return True
        if self._lock.error() != QLockFile.LockError.LockFailedError:
            # The lock file cannot be written (read-only dir): run rather than refuse to start.
            logger.warning("Cannot lock the data dir (%s); not checking for another letzdesk", self._lock.error())
            return True
        self.answered = self._ask_to_show()
        return False

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def _listen(self) -> None:
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        # We hold the lock, so a socket under our name was left by an instance that crashed.
        QLocalServer.removeServer(self.name)
        if not server.listen(self.name):
            logger.warning("Cannot listen for other letzdesk starts: %s", server.errorString())
            return
        server.newConnection.connect(self._accept)
        self._server = server
        logger.info("Listening for other letzdesk starts on %s", self.name)

    def _accept(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(socket.deleteLater)
            if socket.canReadLine():  # the request may have arrived with the connection
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        while socket.canReadLine():
            line = bytes(socket.readLine().data())
            if line != SHOW:
                logger.debug("Ignored %r from another letzdesk", line[:20])
                continue
            logger.info("Asked to show the window by another letzdesk")
            socket.write(ACK)
            socket.flush()
            self.show_requested.emit()
        # A second show on the same socket is not expected; the other side hangs up after the answer.

    def _ask_to_show(self) -> bool:
        """Blocking on purpose: this runs before any event loop, in a process about to exit."""
        socket = QLocalSocket()
        # The first instance may have the lock but not be listening yet: retry for a moment.
        deadline = time.monotonic() + CONNECT_BUDGET_MS / 1000
        while True:
            socket.connectToServer(self.name)
            if socket.waitForConnected(200):
                break
            if time.monotonic() >= deadline:
                logger.warning("letzdesk already runs with this data dir but does not answer on %s", self.name)
                return False
            time.sleep(0.1)
        socket.write(SHOW)
        socket.waitForBytesWritten(ACK_TIMEOUT_MS)
        answered = socket.waitForReadyRead(ACK_TIMEOUT_MS) and bytes(socket.readAll().data()).startswith(ACK)
        socket.disconnectFromServer()
        if answered:
            logger.info("letzdesk already runs with this data dir; asked it to show its window")
        else:
            logger.warning("letzdesk already runs with this data dir; it did not answer in time")
        return answered


def bring_forward(window: QWidget) -> None:
    """Show a minimized or hidden window and put it in front; the window manager may still only
    flash it in the task bar, which is its policy against stealing focus."""
    if window.isMinimized() or not window.isVisible():
        window.showNormal()
    window.raise_()
    window.activateWindow()
