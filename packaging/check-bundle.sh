#!/usr/bin/env bash
# Check a frozen letzdesk folder (PyInstaller onedir, see build.spec) before it is shipped:
#   - at most MAX_MB mebibytes on disk (default 200, as `du -sm` counts them);
#   - none of the Qt modules letzdesk leaves out (QtWebEngine, QtQml, QtQuick, Qt3D, QtMultimedia, QtPdf);
#   - every bundled ELF file finds the libraries it links against, in the bundle or on this machine.
# Usage: packaging/check-bundle.sh [DIR] [MAX_MB]     (DIR defaults to dist/letzdesk)
set -euo pipefail

dir=${1:-dist/letzdesk}
max_mb=${2:-200}
fail=0

if [ ! -x "$dir/letzdesk" ]; then
  echo "check-bundle: $dir/letzdesk is missing; build it with: pyinstaller --noconfirm build.spec" >&2
  exit 1
fi

size_mb=$(du -sm "$dir" | cut -f1)
echo "check-bundle: $dir is ${size_mb} MiB ($(du -sh "$dir" | cut -f1)), limit ${max_mb} MiB"
if [ "$size_mb" -gt "$max_mb" ]; then
  echo "check-bundle: FAIL: the bundle is over ${max_mb} MiB; its largest parts:" >&2
  du -sm "$dir"/_internal/* 2>/dev/null | sort -n | tail -10 >&2
  fail=1
fi

unwanted=$(find "$dir" \( -iname '*Qt6WebEngine*' -o -iname '*QtWebEngine*' -o -iname '*Qt6Qml*' -o -iname 'QtQml*' \
  -o -iname '*Qt6Quick*' -o -iname 'QtQuick*' -o -iname '*Qt63D*' -o -iname 'Qt3D*' -o -iname '*Qt6Multimedia*' \
  -o -iname 'QtMultimedia*' -o -iname '*Qt6Pdf*' -o -iname 'QtPdf*' \) -print)
if [ -n "$unwanted" ]; then
  echo "check-bundle: FAIL: Qt modules letzdesk does not use are in the bundle:" >&2
  echo "$unwanted" >&2
  fail=1
else
  echo "check-bundle: no QtWebEngine, QtQml, QtQuick, Qt3D, QtMultimedia or QtPdf files"
fi

# ldd resolves what the program would load: the bundle's folders first (as the frozen app's
# loader does), then the system. A plugin whose library is missing fails only when Qt loads it,
# so look now rather than on a user's desktop.
if command -v ldd >/dev/null 2>&1; then
  lib_path=$(find "$dir" -name '*.so*' -printf '%h\n' | sort -u | paste -sd:)
  missing=$(
    find "$dir" -type f \( -name '*.so*' -o -name letzdesk \) -print0 |
      while IFS= read -r -d '' file; do
        [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
        LD_LIBRARY_PATH="$lib_path" ldd "$file" 2>/dev/null | awk -v f="$file" '/not found/ {print f ": " $1}'
      done
  )
  if [ -n "$missing" ]; then
    echo "check-bundle: FAIL: libraries neither bundled nor installed here:" >&2
    echo "$missing" >&2
    echo "check-bundle: install them (Debian: see packaging/build-linux.sh BUILD_DEPS) and rebuild." >&2
    fail=1
  else
    echo "check-bundle: every bundled library finds what it links against"
  fi
fi

exit "$fail"
