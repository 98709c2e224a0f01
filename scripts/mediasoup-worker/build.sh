#!/bin/sh
# Puts a mediasoup-worker binary at node_modules/mediasoup/worker/out/Release/
# (where the mediasoup package looks by default). It comes from a cache outside
# node_modules when one matches; else it is built from the worker sources of
# the npm tarball (no download), then cached. OpenSSL is linked statically from
# a cached build of Debian's openssl source (openssl.sh); every other library
# is Debian's shared one.
# Called by install.sh. `build.sh --from-cache-only` installs a cached binary
# or exits 1 without building (and without complaining).
set -eu
FROM_CACHE_ONLY=0; [ "${1:-}" = "--from-cache-only" ] && FROM_CACHE_ONLY=1
HERE="$(cd "$(dirname "$0")" && pwd)"
MS_DIR="$(node -p "require('path').resolve(require.resolve('mediasoup'), '../../..')")"
VERSION="$(node -p "require('$MS_DIR/package.json').version")"
DEST="$MS_DIR/worker/out/Release/mediasoup-worker"
CACHE_ROOT="${MEDIASOUP_WORKER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mediasoup-worker}"
DEBS="libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler meson ninja-build pkg-config g++ make perl"

for t in meson ninja flatc pkg-config c++ cc make perl ldd; do
  command -v "$t" >/dev/null 2>&1 || {
    [ "$FROM_CACHE_ONLY" = 1 ] && exit 1
    echo "mediasoup-worker: '$t' missing; run: apt-get install -y --no-install-recommends $DEBS" >&2; exit 1; }
done

# Cache key: mediasoup version + these scripts + the OpenSSL cache entry name
# (itself keyed by OpenSSL version, source hash, options, compiler) + the exact
# Debian packages + compiler.
OPENSSL_NAME="$(sh "$HERE/openssl.sh" --name)"
KEY="$( {
  echo "$VERSION"; uname -m; c++ --version | head -1; echo "$OPENSSL_NAME"
  cat "$HERE/build.sh" "$HERE/patch-worker.sh" "$HERE/sysdeps.meson" "$HERE/syscompat/srtp.h" \
    "$HERE/openssl.sh" "$HERE/openssl.pin"
  dpkg-query -W -f '${Package}=${Version}\n' $DEBS 2>/dev/null || true
} | sha256sum | cut -c1-16 )"
CACHED="$CACHE_ROOT/$VERSION-$KEY/mediasoup-worker"

check() { # mediasoup-worker exits 41 when run without its parent (see its main.cpp)
  rc=0; env -i "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 41 ] || { echo "mediasoup-worker: $1 does not run (exit $rc)" >&2; return 1; }
}
static_openssl() { # no shared OpenSSL anywhere in its dependency tree
  if ldd "$1" | grep -E 'lib(ssl|crypto)\.so'; then
    echo "mediasoup-worker: $1 links a shared OpenSSL (see above)" >&2; return 1
  fi
}

if [ -x "$CACHED" ] && check "$CACHED" && static_openssl "$CACHED"; then
  echo "mediasoup-worker: $VERSION from cache $CACHED"
else
  [ "$FROM_CACHE_ONLY" = 1 ] && exit 1
  echo "mediasoup-worker: building $VERSION (cache key $KEY); this takes about 5 minutes on 2 cores"
  OPENSSL_PREFIX="$(sh "$HERE/openssl.sh" "$CACHE_ROOT")"
  export PKG_CONFIG_PATH="$OPENSSL_PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
  BUILD="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")"
  trap 'rm -rf "$BUILD"' EXIT
  cp -R "$MS_DIR/worker" "$BUILD/worker"
  rm -rf "$BUILD/worker/out"
  sh "$HERE/patch-worker.sh" "$BUILD/worker"
  cd "$BUILD/worker"
  # liburing off: Debian's liburing 2.3 lacks io_uring_prep_sendto() and
  # io_uring_major/minor_version() that the worker uses (its wrap pins 2.5).
  meson setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true \
    -Dms_disable_liburing=true out/build
  # meson must link the cached static archives (not Debian's libssl.so / libcrypto.so).
  grep -qF "$OPENSSL_PREFIX/lib/libcrypto.a" out/build/build.ninja || {
    echo "mediasoup-worker: meson did not pick $OPENSSL_PREFIX (PKG_CONFIG_PATH)" >&2; exit 1; }
  meson compile -C out/build flatbuffers-generator
  meson compile -C out/build mediasoup-worker
  check out/build/mediasoup-worker
  static_openssl out/build/mediasoup-worker
  mkdir -p "$(dirname "$CACHED")"
  cp out/build/mediasoup-worker "$CACHED.tmp.$$" && mv -f "$CACHED.tmp.$$" "$CACHED"
  cd - >/dev/null
fi
mkdir -p "$(dirname "$DEST")"
cp "$CACHED" "$DEST.tmp.$$" && mv -f "$DEST.tmp.$$" "$DEST"
check "$DEST"
echo "mediasoup-worker: installed $DEST ($(wc -c < "$DEST") bytes, OpenSSL $OPENSSL_NAME linked statically)"
