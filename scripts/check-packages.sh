#!/usr/bin/env bash
# Packs every published package as `pnpm publish` would (publishConfig applied: exports point at
# dist) and checks the tarballs: publint (package.json against the files), attw (the types
# resolve for ESM and CJS consumers under node16 and bundler resolution), and that each one
# ships its LICENSE. Run after `pnpm build`:  pnpm check:packages
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
status=0
for dir in "$root"/packages/*/; do
  manifest="$dir/package.json"
  [ "$(node -p "require('$manifest').private === true")" = "true" ] && continue
  name="$(node -p "require('$manifest').name")"
  mkdir -p "$out/$name"
  (cd "$dir" && pnpm pack --pack-destination "$out/$name" >/dev/null)
  tarball="$(ls "$out/$name"/*.tgz)"
  echo "--- $name ($(basename "$tarball"))"
  if ! tar -tzf "$tarball" | grep -x 'package/LICENSE' >/dev/null; then
    echo "  LICENSE is missing from the tarball"
    status=1
  fi
  pnpm exec publint run "$tarball" --strict --level warning || status=1
  pnpm exec attw "$tarball" --format ascii --no-emoji --no-color || status=1
done
exit $status
