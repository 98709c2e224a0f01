#!/bin/sh
# Postinstall: puts AWS's DynamoDB Local (the jar and its native libraries,
# shipped in the npm package amplify-dynamodb-simulator under emulator/) into
# a cache outside the clone. Only the tarball is fetched (`npm pack`, checked
# against the pinned integrity); the package's own dependency tree (the Amplify
# CLI core, ~13,000 files) is never installed, which keeps `npm ci` fast.
# scripts/dynamodb-local.ts runs it from there.
set -eu
VERSION=2.9.30
INTEGRITY='sha512-xTeeRLvzEfqyd5lh3bH4c0kHvSHHmmhD5ZDsHFKAQ5g2Zl6JqlFdutaQhCLHzxEp6Ry1o7TB6niIoXuQAnSewQ=='
CACHE_ROOT="${DYNAMODB_LOCAL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dynamodb-local}"
DEST="$CACHE_ROOT/$VERSION"

if [ -f "$DEST/emulator/DynamoDBLocal.jar" ]; then
  echo "dynamodb-local: $VERSION from cache $DEST"
  exit 0
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/dynamodb-local.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "amplify-dynamodb-simulator@$VERSION" >/dev/null)
TGZ="$WORK/amplify-dynamodb-simulator-$VERSION.tgz"
actual="sha512-$(node -e "process.stdout.write(require('crypto').createHash('sha512').update(require('fs').readFileSync(process.argv[1])).digest('base64'))" "$TGZ")"
if [ "$actual" != "$INTEGRITY" ]; then
  echo "dynamodb-local: integrity mismatch for amplify-dynamodb-simulator@$VERSION ($actual)" >&2
  exit 1
fi
tar -xzf "$TGZ" -C "$WORK" package/emulator
mkdir -p "$CACHE_ROOT"
rm -rf "$DEST.tmp.$$"
mkdir -p "$DEST.tmp.$$"
mv "$WORK/package/emulator" "$DEST.tmp.$$/emulator"
rm -rf "$DEST"
mv "$DEST.tmp.$$" "$DEST"
echo "dynamodb-local: installed $VERSION at $DEST"
