# letzdesk: PyInstaller's PySide6.QtWidgets hook, less the Qt plugins letzdesk never loads.
from letzdesk_qt_policy import qt_hook

hiddenimports, binaries, datas = qt_hook(__file__)
