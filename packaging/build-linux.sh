#!/usr/bin/env bash
# Build letzdesk's Linux packages from this checkout:
#
#   dist/letzdesk/                                  the PyInstaller onedir bundle (build.spec)
#   dist/letzdesk-<version>-linux-<machine>.tar.gz  that bundle as it is: runs on its own (needs glibc 2.36+)
#   dist/letzdesk_<version>_<debian-arch>.deb       for the Debian release it is built on: /opt/letzdesk,
#                                                   /usr/bin/letzdesk, a menu entry and icons; uses that
#                                                   release's system libraries (and their security updates)
#
# Python: the venv named by $LETZDESK_VENV, by default .venv at the top of the checkout (the one
# README and CI use); it is created with python3 if missing, and ".[package]" is installed into it.
# Debian tools and the libraries Qt's plugins link against must be installed: the script names
# what is missing (BUILD_DEPS below) and stops.
#
# Usage: packaging/build-linux.sh               build everything
#        packaging/build-linux.sh --reuse       package an existing dist/letzdesk without rebuilding it
#        packaging/build-linux.sh --build-deps  print the Debian packages it needs, one a line
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# The tools (dpkg-dev: dpkg-shlibdeps; binutils: objdump, which PyInstaller uses on Linux) and the
# libraries Qt's xcb and Wayland plugins link against: PyInstaller can only follow (and the .deb
# can only depend on) what is installed here.
BUILD_DEPS=(
  dpkg-dev desktop-file-utils binutils
  libegl1 libgl1 libfontconfig1 libdbus-1-3 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 libx11-xcb1
  libwayland-client0 libwayland-cursor0 libwayland-egl1
)
reuse=0
case "${1:-}" in
  --reuse) reuse=1 ;;
  --build-deps) printf '%s\n' "${BUILD_DEPS[@]}"; exit 0 ;;
  "") ;;
  *) echo "usage: packaging/build-linux.sh [--reuse | --build-deps]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${BUILD_DEPS[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build-linux: missing Debian packages; install them with:" >&2
  echo "  apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

version=$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' letzdesk/__init__.py)
[ -n "$version" ] || { echo "build-linux: no __version__ in letzdesk/__init__.py" >&2; exit 1; }
deb_arch=$(dpkg --print-architecture)
machine=$(uname -m)
venv=${LETZDESK_VENV:-$root/.venv}
py="$venv/bin/python"
bundle=dist/letzdesk
echo "build-linux: letzdesk $version for $deb_arch, Python from $venv"

# -- the bundle --------------------------------------------------------------------------------

if [ "$reuse" -eq 0 ]; then
  [ -x "$py" ] || python3 -m venv "$venv"
  "$py" -m pip install --quiet --disable-pip-version-check -e ".[package]"
  started=$(date +%s)
  "$py" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller build.spec
  echo "build-linux: bundle built in $(($(date +%s) - started)) s"
fi
bash packaging/check-bundle.sh "$bundle"

# The frozen app checks itself: database, vault, keyring, sandbox, import, an answer, the window, TLS.
# Its report stays in build/selftest.json.
mkdir -p build
if ! QT_QPA_PLATFORM=offscreen "$bundle/letzdesk" --self-test >build/selftest.json 2>build/selftest.log; then
  echo "build-linux: the frozen app's self-test failed:" >&2
  cat build/selftest.json build/selftest.log >&2
  exit 1
fi
echo "build-linux: frozen self-test passed"

# -- the tarball: the bundle as it is ------------------------------------------------------------

tarball="dist/letzdesk-$version-linux-$machine.tar.gz"
tar --create --gzip --file "$tarball" --directory dist --owner=0 --group=0 --numeric-owner \
  --transform "flags=r;s,^letzdesk,letzdesk-$version," letzdesk
echo "build-linux: $tarball ($(du -h "$tarball" | cut -f1))"

# -- the .deb ----------------------------------------------------------------------------------

# dpkg-shlibdeps wants the layout of a Debian source tree: debian/control and debian/<package>/.
stage=build/deb
pkg="$stage/debian/letzdesk"
rm -rf "$stage"
mkdir -p "$pkg/DEBIAN" "$pkg/opt" "$pkg/usr/bin" "$pkg/usr/share/applications" "$pkg/usr/share/doc/letzdesk"
printf 'Source: letzdesk\n\nPackage: letzdesk\nArchitecture: any\n' >"$stage/debian/control"
cp -a "$bundle" "$pkg/opt/letzdesk"

# PyInstaller copied system libraries (libX11, libxcb-*, fontconfig, OpenSSL, ...) from this
# machine into the bundle. Where a copy is byte for byte the file a Debian package installed, the
# .deb leaves it out and depends on that package instead. Qt, ICU and Python come from the
# wheels and the venv and stay.
# (ldconfig's list is read once into a file: piping it into an awk that stops at the first
# match would kill ldconfig with SIGPIPE now and then, and pipefail would stop the script.)
ldconfig -p >"$stage/ldconfig.txt"
dropped=()
for file in "$pkg"/opt/letzdesk/_internal/*.so*; do
  [ -f "$file" ] && [ ! -L "$file" ] || continue
  name=$(basename "$file")
  system=$(awk -v n="$name" '$1 == n && $NF ~ /^\// {print $NF; exit}' "$stage/ldconfig.txt")
  [ -n "$system" ] && cmp -s "$file" "$(readlink -f "$system")" || continue
  owner=$(dpkg -S "$(readlink -f "$system")" 2>/dev/null || dpkg -S "$system" 2>/dev/null || true)
  [ -n "$owner" ] || continue
  rm "$file"
  dropped+=("$name")
done
echo "build-linux: the .deb uses Debian's copies of ${#dropped[@]} system libraries"

ln -s /opt/letzdesk/letzdesk "$pkg/usr/bin/letzdesk"
install -m 0644 packaging/linux/letzdesk.desktop "$pkg/usr/share/applications/letzdesk.desktop"
desktop-file-validate "$pkg/usr/share/applications/letzdesk.desktop"

icons="$pkg/usr/share/icons/hicolor"
install -D -m 0644 letzdesk/resources/letzdesk.svg "$icons/scalable/apps/letzdesk.svg"
"$py" packaging/render_icons.py "$stage/icons" >/dev/null
for size in 16 32 48 64 128 256; do
  install -D -m 0644 "$stage/icons/letzdesk-$size.png" "$icons/${size}x${size}/apps/letzdesk.png"
done

install -m 0644 packaging/linux/copyright "$pkg/usr/share/doc/letzdesk/copyright"

# Which Debian packages the remaining binaries need, with the versions they need (from Debian's
# symbols files). It fails if a library is neither in the bundle nor installed here.
elves=()
while IFS= read -r -d '' file; do
  [ "$(head -c 4 "$file" | od -An -c | tr -d ' ')" = '177ELF' ] && elves+=("-e${file#"$stage"/}")
done < <(find "$pkg/opt" -type f \( -name '*.so*' -o -name letzdesk \) -print0)
if ! (cd "$stage" && dpkg-shlibdeps -O "${elves[@]}") >"$stage/shlibdeps.out" 2>"$stage/shlibdeps.log"; then
  grep -v 'warning:' "$stage/shlibdeps.log" >&2 || true
  echo "build-linux: dpkg-shlibdeps could not work out the dependencies (above)" >&2
  exit 1
fi
depends=$(sed -n 's/^shlibs:Depends=//p' "$stage/shlibdeps.out")

# Every file root's, directories 0755, files 0644 unless executable; then the control file.
chmod -R u=rwX,go=rX "$pkg"
installed_kb=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<CONTROL
Package: letzdesk
Version: $version
Architecture: $deb_arch
Maintainer: ${LETZDESK_MAINTAINER:-letzdesk team <packaging@letzdesk.invalid>}
Installed-Size: $installed_kb
Depends: $depends
Recommends: fonts-dejavu-core | fonts-liberation2 | fonts-noto-core
Suggests: gnome-keyring | kwalletmanager
Section: misc
Priority: optional
Description: order desk for Letzshop vendors
 letzdesk imports your unconfirmed Letzshop orders into a local database,
 lets you confirm or decline each item and set tracking numbers, and sends
 every answer to Letzshop once through a durable queue, whatever the network
 does. API keys are stored encrypted, with the master key in the desktop
 keyring or a key file. Auto-sync, a command line for scripts, and a local
 Letzshop sandbox (letzdesk --demo) are included.
CONTROL

deb="dist/letzdesk_${version}_${deb_arch}.deb"
dpkg-deb --build --root-owner-group "$pkg" "$deb"
echo "build-linux: $deb ($(du -h "$deb" | cut -f1)), Depends: $depends"
