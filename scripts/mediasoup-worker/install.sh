#!/bin/sh
# Project postinstall: puts a working mediasoup-worker at
# node_modules/mediasoup/worker/out/Release/mediasoup-worker.
#
# mediasoup's own postinstall is disabled in package.json ("allowScripts"),
# because offline it falls back to a build that downloads its subprojects and
# fails the whole install. This script runs instead, in this order:
#   1. a binary already installed there that runs   -> keep it
#   2. a cached offline build matching this setup    -> copy it (about 1 s)
#   3. mediasoup's stock prebuilt download           -> used on hosts with internet
#      (skipped when MEDIASOUP_WORKER_OFFLINE=1)
#   4. the offline build (build.sh): worker sources from the npm tarball,
#      Debian's libraries, OpenSSL linked statically from upstream source.
# MEDIASOUP_WORKER_BIN set by the user means "bring your own": nothing is done.
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
MS_DIR="$(node -p "require('path').resolve(require.resolve('mediasoup'), '../../..')")"
DEST="$MS_DIR/worker/out/Release/mediasoup-worker"

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  echo "mediasoup-worker: MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN given, nothing to install"
  exit 0
fi

runs() { # mediasoup-worker exits 41 when started without its parent (main.cpp)
  rc=0; env -i "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 41 ]
}

if [ -x "$DEST" ] && runs "$DEST"; then
  echo "mediasoup-worker: $DEST already installed"
  exit 0
fi

if sh "$HERE/build.sh" --from-cache-only; then
  exit 0
fi

if [ "${MEDIASOUP_WORKER_OFFLINE:-0}" != 1 ]; then
  echo "mediasoup-worker: trying mediasoup's prebuilt download"
  # PYTHON=false turns mediasoup's own fallback (a networked meson build) into
  # an immediate failure, so only the download is attempted.
  if (cd "$MS_DIR" && PYTHON=false node npm-scripts.mjs postinstall) >/dev/null 2>&1 \
    && [ -x "$DEST" ] && runs "$DEST"; then
    echo "mediasoup-worker: prebuilt worker installed at $DEST"
    exit 0
  fi
  echo "mediasoup-worker: no prebuilt download (offline?); building from the npm tarball"
fi

exec sh "$HERE/build.sh"
