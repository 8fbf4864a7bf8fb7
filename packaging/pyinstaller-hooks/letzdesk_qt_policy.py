"""Which Qt plugins and translations the frozen letzdesk carries (used by the hooks beside this file).

PyInstaller's own PySide6 hooks collect every plugin of each type a Qt module might use: the
embedded-device platforms (eglfs, linuxfb, vnc), evdev input, every image format, the network
reachability and TLS backends, the GTK 3 theme. letzdesk is a widgets app that talks HTTPS
through httpx, not QtNetwork, and shows PNG and SVG only. The hooks here ask PyInstaller for the
same lists and drop what letzdesk never loads *before* PyInstaller follows their libraries, so
a dropped plugin leaves none of its dependencies behind (the GTK 3 theme alone brings cairo,
pango, gdk-pixbuf and atk).

Plugin names are compared without the ``lib`` prefix and the file extension, so one list
serves Linux (``libqxcb.so``), Windows (``qwindows.dll``) and macOS (``libqcocoa.dylib``).
A plugin type in neither table is kept whole. ICU is a library, not a plugin: it stays.
"""

from __future__ import annotations

import logging
import os

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

logger = logging.getLogger("letzdesk.build")

#: Plugin types letzdesk never loads.
DROP_TYPES = frozenset(
    {
        "generic",  # evdev/tslib input for eglfs and linuxfb
        "egldeviceintegrations",  # eglfs backends (kiosk devices without a window system)
        "networkinformation",  # QNetworkInformation: reachability; letzdesk tries the request instead
        "tls",  # QSslSocket backends; HTTPS goes through httpx with certifi's CA bundle
        "sqldrivers",  # QtSql; the database is SQLite through SQLAlchemy
        "printsupport",
    }
)

#: For these plugin types only the named plugins are kept.
KEEP_ONLY = {
    # Desktop window systems, plus offscreen/minimal for --self-test and CI without a display.
    "platforms": frozenset(
        {"qxcb", "qwayland", "qwayland-egl", "qwayland-generic", "qoffscreen", "qminimal", "qwindows", "qcocoa"}
    ),
    "imageformats": frozenset({"qsvg"}),  # PNG is built into QtGui
    "iconengines": frozenset({"qsvgicon"}),  # the window and tray icon is an SVG
    # The desktop portal gives native file dialogs on GNOME, KDE and in sandboxes; the GTK 3
    # theme would need the user's GTK next to a bundled cairo and pango, a known source of
    # symbol clashes, for little gain in a widgets app.
    "platformthemes": frozenset({"qxdgdesktopportal"}),
    "wayland-shell-integration": frozenset({"xdg-shell"}),  # what every current compositor speaks
}


def plugin_name(path: str) -> str:
    name = os.path.basename(path)
    for ext in (".so", ".dll", ".dylib"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name.removeprefix("lib")


def plugin_type(dest: str) -> str | None:
    parts = dest.replace("\\", "/").split("/")
    return parts[parts.index("plugins") + 1] if "plugins" in parts[:-1] else None


def wanted_binary(src: str, dest: str) -> bool:
    kind = plugin_type(dest)
    if kind is None:
        return True
    if kind in DROP_TYPES:
        return False
    keep = KEEP_ONLY.get(kind)
    return keep is None or plugin_name(src) in keep


def wanted_data(src: str, dest: str) -> bool:
    # Qt's translations of its own dialogs: letzdesk installs no QTranslator, so they are never read.
    return not src.endswith(".qm")


def qt_hook(hook_file: str) -> tuple[list, list, list]:
    """PyInstaller's standard collection for this PySide6 module, less what letzdesk never loads."""
    hiddenimports, binaries, datas = add_qt6_dependencies(hook_file)
    kept_binaries = [entry for entry in binaries if wanted_binary(*entry)]
    kept_datas = [entry for entry in datas if wanted_data(*entry)]
    dropped = sorted(plugin_name(src) for src, dest in binaries if (src, dest) not in kept_binaries)
    if dropped:
        logger.info("letzdesk: %s: left out Qt plugins %s", os.path.basename(hook_file), ", ".join(dropped))
    return hiddenimports, kept_binaries, kept_datas
