#!/usr/bin/env bash
# Build dist/letzdesk.app and dist/letzdesk-<version>-macos-<arch>.dmg on a Mac.
#
# UNTESTED: written on Linux, never run on macOS. See docs/packaging.md (macOS) first.
#
# Optional signing and notarising, from the environment:
#   LETZDESK_CODESIGN_IDENTITY  "Developer ID Application: <name> (<team id>)" in the login keychain;
#                               build.spec hands it to PyInstaller, which signs every binary and the
#                               app with the hardened runtime (unset: ad-hoc signatures)
#   MACOS_NOTARY_PROFILE        a profile saved with `xcrun notarytool store-credentials`
set -euo pipefail
cd "$(dirname "$0")/../.."

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' letzdesk/__init__.py)
arch=$(uname -m)
venv=${LETZDESK_VENV:-.venv}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet -e ".[package]"
"$venv/bin/python" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller build.spec

app=dist/letzdesk.app
# The command line is the same program: check the frozen copy before shipping it.
QT_QPA_PLATFORM=offscreen "$app/Contents/MacOS/letzdesk" --self-test >build/selftest.json

if [ -n "${LETZDESK_CODESIGN_IDENTITY:-}" ]; then
  codesign --verify --deep --strict --verbose=2 "$app"
fi

dmg="dist/letzdesk-$version-macos-$arch.dmg"
rm -f "$dmg"
hdiutil create -volname letzdesk -srcfolder "$app" -ov -format UDZO "$dmg"

if [ -n "${LETZDESK_CODESIGN_IDENTITY:-}" ] && [ -n "${MACOS_NOTARY_PROFILE:-}" ]; then
  codesign --force --timestamp --sign "$LETZDESK_CODESIGN_IDENTITY" "$dmg"
  xcrun notarytool submit "$dmg" --keychain-profile "$MACOS_NOTARY_PROFILE" --wait
  xcrun stapler staple "$dmg"
fi
echo "build-macos: $dmg"
