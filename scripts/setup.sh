#!/bin/sh
# Prepares a Debian 12 machine for this project and installs it (idempotent;
# a second run with everything present takes seconds):
#   - Debian packages: the mediasoup-worker build deps, Java for DynamoDB Local,
#     Chromium for the browser tests, coturn for the TURN tests;
#   - a deb-src entry, so that the worker's static OpenSSL can be built from
#     Debian's copy of the upstream source (see scripts/mediasoup-worker/);
#   - `npm ci`, whose postinstall installs the mediasoup worker.
set -eu
cd "$(dirname "$0")/.."
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive

BUILD_DEBS="libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler meson ninja-build pkg-config g++ make perl"
RUNTIME_DEBS="chromium coturn fonts-liberation"
command -v java >/dev/null 2>&1 || RUNTIME_DEBS="$RUNTIME_DEBS openjdk-17-jre-headless"

missing=""
for p in $BUILD_DEBS $RUNTIME_DEBS; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done

# deb-src for <codename> and <codename>-security, unless apt already has them.
CODENAME="$(. /etc/os-release && echo "$VERSION_CODENAME")"
SRC_LIST=/etc/apt/sources.list.d/mediasoup-openssl-src.sources
have_src() {
  apt-get indextargets --no-release-info --format '$(TARGET_OF) $(RELEASE)' 2>/dev/null | grep -qx "deb-src $1"
}
entry() {
  printf '%s\n' 'Types: deb-src' "URIs: $1" "Suites: $2" 'Components: main' \
    'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' ''
}
need_update=0
if ! have_src "$CODENAME-security"; then
  tmp="$(mktemp)"
  { have_src "$CODENAME" || entry http://deb.debian.org/debian "$CODENAME"
    entry http://deb.debian.org/debian-security "$CODENAME-security"; } > "$tmp"
  $SUDO cp "$tmp" "$SRC_LIST"; $SUDO chmod 644 "$SRC_LIST"; rm -f "$tmp"
  echo "setup: wrote $SRC_LIST"
  need_update=1
fi
[ -n "$missing" ] && need_update=1
if [ "$need_update" = 1 ]; then
  $SUDO apt-get update -q
fi
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi

npm ci --no-audit --no-fund
