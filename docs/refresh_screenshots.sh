#!/usr/bin/env bash
# Regenerate every picture under docs/screenshots from the real window on the demo data.
#   bash docs/refresh_screenshots.sh            (from the repository, with letzdesk installed)
# The tray pictures need a virtual X screen with a tray host (see docs/shot_tray.py); without
# those tools they are left as they are and the script says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}

# Orders, answering, decline dialog, queue; the Vendors tab; the Logs tab: offscreen.
QT_QPA_PLATFORM=offscreen "$python" docs/make_screenshots.py
QT_QPA_PLATFORM=offscreen "$python" docs/shot_credentials.py
QT_QPA_PLATFORM=offscreen "$python" docs/shot_logs.py

# The tray menu and a notice: a real X server (Xvfb) with trayer.
if command -v Xvfb >/dev/null && command -v trayer >/dev/null && command -v xdotool >/dev/null \
    && command -v import >/dev/null; then
  "$python" docs/shot_tray.py
else
  echo "refresh_screenshots: tray pictures kept (apt-get install xvfb trayer xdotool imagemagick)" >&2
fi
