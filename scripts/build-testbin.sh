#!/usr/bin/env bash
# Builds a Kubernetes test control plane (etcd, kube-apiserver, kube-controller-manager)
# from the Go module proxy and caches the binaries outside the repository.
#
#   bash scripts/build-testbin.sh            # build what is missing, print the directory
#
# Output: ${TASKMASTER_TESTBIN:-$HOME/.cache/taskmaster/testbin}/k8s-<version>/{etcd,kube-apiserver,kube-controller-manager}
# Environment overrides:
#   TASKMASTER_TESTBIN   cache root (default $HOME/.cache/taskmaster/testbin)
#   K8S_VERSION          k8s.io/kubernetes release to build (default v1.35.4; v1.34.x and v1.35.x are known to work)
#   ETCD_VERSION         go.etcd.io/etcd/server/v3 release to build (default v3.6.16)
#   TESTBIN_FORCE=1      rebuild even when the binaries exist
# Needs only Go and the Go module proxy. Go's module and build caches are left in their usual
# places (go env GOMODCACHE / GOCACHE), so a rebuild after a version bump is faster.
# See docs/testing-kubernetes.md.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-v1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
CACHE_ROOT="${TASKMASTER_TESTBIN:-$HOME/.cache/taskmaster/testbin}"
FORCE="${TESTBIN_FORCE:-0}"

log() { printf '[build-testbin] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ "$K8S_VERSION" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || die "K8S_VERSION must look like v1.35.4 (got '$K8S_VERSION')"
K8S_MINOR="${BASH_REMATCH[1]}"
K8S_PATCH="${BASH_REMATCH[2]}"
STAGING_VERSION="v0.${K8S_MINOR}.${K8S_PATCH}"
[[ "$ETCD_VERSION" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "ETCD_VERSION must look like v3.6.16 (got '$ETCD_VERSION')"

command -v go >/dev/null 2>&1 || die "Go is not installed (needed to build the test control plane)"

# Keep the build independent of any go.work and of the caller's module.
export GOWORK=off
export CGO_ENABLED=0

BINARIES=(etcd kube-apiserver kube-controller-manager)

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$OUT_DIR/$b" ]] || return 1; done
  return 0
}

mkdir -p "$CACHE_ROOT"
CACHE_ROOT="$(cd "$CACHE_ROOT" && pwd -P)"
OUT_DIR="$CACHE_ROOT/k8s-${K8S_VERSION#v}"

# Fast path without the lock.
if [[ "$FORCE" != 1 ]] && have_all; then
  log "all binaries already present in $OUT_DIR (nothing to do)"
  echo "$OUT_DIR"
  exit 0
fi

# Serialise concurrent builds (two CI steps, two terminals) on the same cache root.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.build.lock"
  if ! flock -n 9; then
    log "another build holds $CACHE_ROOT/.build.lock; waiting for it"
    flock 9
  fi
fi

mkdir -p "$OUT_DIR"
WORK="$(mktemp -d "$CACHE_ROOT/.build.XXXXXX")"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
# Proxy look-ups run inside a throwaway module, so that no go.mod above the cache dir is touched.
QUERY="$WORK/query"
mkdir -p "$QUERY"
printf 'module taskmaster.local/testbin/query\n\ngo 1.22\n' >"$QUERY/go.mod"

TOTAL_START=$SECONDS
log "go: $(go version)"
log "output: $OUT_DIR"
log "kubernetes $K8S_VERSION (staging modules $STAGING_VERSION), etcd $ETCD_VERSION"

needs_build() { [[ "$FORCE" == 1 || ! -x "$OUT_DIR/$1" ]]; }

# Install atomically: a half-written binary never appears under its final name.
install_bin() {
  local src="$1" name="$2"
  chmod 0755 "$src"
  mv -f "$src" "$OUT_DIR/.$name.tmp"
  mv -f "$OUT_DIR/.$name.tmp" "$OUT_DIR/$name"
}

# Prints the go.mod file of MODULE@VERSION (downloads it through the proxy).
gomod_path() {
  local json
  json="$(cd "$QUERY" && go mod download -json "$1@$2")" || die "cannot download $1@$2 from the Go module proxy"
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$json"
}

# The `go` and `godebug` directives of a go.mod (single-line or block form).
go_and_godebug_lines() {
  awk '
    /^go[ \t]/ { print; next }
    /^godebug[ \t]*\(/ { inblk = 1; print; next }
    inblk { print; if ($0 ~ /^\)/) inblk = 0; next }
    /^godebug[ \t]/ { print }
  ' "$1"
}

# ---------------------------------------------------------------- etcd
build_etcd() {
  if ! needs_build etcd; then
    log "etcd: present ($OUT_DIR/etcd), skipped"
    return
  fi
  local start=$SECONDS dir="$WORK/etcd" server_mod
  mkdir -p "$dir"
  server_mod="$(gomod_path go.etcd.io/etcd/server/v3 "$ETCD_VERSION")"
  {
    echo "module taskmaster.local/testbin/etcd"
    echo
    go_and_godebug_lines "$server_mod"
    echo
    echo "require go.etcd.io/etcd/server/v3 $ETCD_VERSION"
  } >"$dir/go.mod"
  cat >"$dir/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  log "etcd: resolving modules"
  (cd "$dir" && go mod tidy)
  log "etcd: building"
  (cd "$dir" && go build -trimpath -ldflags "-s -w" -o "$dir/etcd" .)
  "$dir/etcd" --version >/dev/null || die "built etcd does not run"
  install_bin "$dir/etcd" etcd
  log "etcd: built $ETCD_VERSION in $((SECONDS - start))s"
}

# ------------------------------------------------- kube-apiserver / kube-controller-manager
K8S_WRAPPER_READY=0
prepare_k8s_wrapper() {
  [[ "$K8S_WRAPPER_READY" == 1 ]] && return
  local start=$SECONDS dir="$WORK/k8s" k8s_mod replaces mod target tversion version
  mkdir -p "$dir"
  log "kubernetes: downloading k8s.io/kubernetes@$K8S_VERSION go.mod"
  k8s_mod="$(gomod_path k8s.io/kubernetes "$K8S_VERSION")"
  [[ -f "$k8s_mod" ]] || die "no go.mod for k8s.io/kubernetes@$K8S_VERSION"

  # All replace directives of the release, one per line as "OLD_MODULE TARGET [TARGET_VERSION]".
  replaces="$(awk '
    function emit(line,   parts, lhs, rhs) {
      sub(/\/\/.*/, "", line)
      if (split(line, parts, "=>") != 2) return
      lhs = parts[1]; rhs = parts[2]
      split(lhs, l, " ")          # drop an optional old version on the left
      gsub(/^[ \t]+|[ \t]+$/, "", rhs)
      print l[1], rhs
    }
    /^replace[ \t]*\(/ { inblk = 1; next }
    inblk && /^\)/ { inblk = 0; next }
    inblk && /=>/ { emit($0); next }
    /^replace[ \t]/ && /=>/ { sub(/^replace[ \t]+/, ""); emit($0) }
  ' "$k8s_mod")"

  {
    echo "module taskmaster.local/testbin/k8s"
    echo
    go_and_godebug_lines "$k8s_mod"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
  } >"$dir/go.mod"

  local n_staging=0 n_other=0 n_skipped=0
  while read -r mod target tversion; do
    [[ -z "${mod:-}" ]] && continue
    if [[ "$target" == ./* || "$target" == ../* ]]; then
      # Local path in the release (./staging/src/k8s.io/X): use the published module instead.
      version="$(staging_version "$mod" "$k8s_mod")"
      if [[ -z "$version" ]]; then
        n_skipped=$((n_skipped + 1))
        continue
      fi
      printf '\t%s => %s %s\n' "$mod" "$mod" "$version" >>"$dir/go.mod"
      n_staging=$((n_staging + 1))
    else
      printf '\t%s => %s %s\n' "$mod" "$target" "${tversion:-}" >>"$dir/go.mod"
      n_other=$((n_other + 1))
    fi
  done <<<"$replaces"
  echo ")" >>"$dir/go.mod"
  ((n_staging > 0)) || die "found no staging replaces in k8s.io/kubernetes@$K8S_VERSION go.mod"
  log "kubernetes: wrapper module replaces $n_staging staging modules ($n_other other replaces copied, $n_skipped not on the proxy and not required by the release left out)"

  cat >"$dir/tools.go" <<'EOF'
//go:build tools

// Pins the commands built from this wrapper module.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
EOF
  log "kubernetes: resolving modules (first run downloads a few hundred MB)"
  (cd "$dir" && go mod tidy)
  K8S_WRAPPER_READY=1
  log "kubernetes: modules ready in $((SECONDS - start))s"
}

# Staging module version for this release: v0.MINOR.PATCH, or the newest v0.MINOR.* tag
# when that one was never published (it happened for k8s.io/externaljwt). Prints nothing when the
# module has no v0.MINOR.* at all and the release's go.mod does not require it (the sample-* modules
# are only replaced, never required, and some proxies do not serve them): no replace is needed then.
staging_version() {
  local mod="$1" k8s_mod="$2" newest
  if (cd "$QUERY" && go list -m -json "$mod@$STAGING_VERSION" >/dev/null 2>&1); then
    echo "$STAGING_VERSION"
    return
  fi
  newest="$(cd "$QUERY" && go list -m -versions "$mod" 2>/dev/null | tr ' ' '\n' |
    grep -E "^v0\.${K8S_MINOR}\.[0-9]+$" | sort -V | tail -n 1 || true)"
  if [[ -n "$newest" ]]; then
    log "kubernetes: $mod@$STAGING_VERSION does not exist, using $newest"
    echo "$newest"
    return
  fi
  if is_required "$mod" "$k8s_mod"; then
    die "no v0.${K8S_MINOR}.* version of $mod (required by k8s.io/kubernetes@$K8S_VERSION) on the Go module proxy"
  fi
  log "kubernetes: no v0.${K8S_MINOR}.* of $mod on the proxy; the release does not require it, so no replace"
}

# Whether the go.mod ($2) has a require directive for module $1.
is_required() {
  awk -v m="$1" '
    /^require[ \t]*\(/ { inblk = 1; next }
    inblk && /^\)/ { inblk = 0; next }
    inblk && $1 == m { found = 1 }
    /^require[ \t]/ && $2 == m { found = 1 }
    END { exit found ? 0 : 1 }
  ' "$2"
}

build_k8s_cmd() {
  local name="$1"
  if ! needs_build "$name"; then
    log "$name: present ($OUT_DIR/$name), skipped"
    return
  fi
  prepare_k8s_wrapper
  local start=$SECONDS dir="$WORK/k8s" pkg="k8s.io/component-base/version"
  local ldflags="-s -w -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$K8S_MINOR"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  log "$name: building (several minutes on 2 cores)"
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$dir/$name" "k8s.io/kubernetes/cmd/$name")
  local reported
  reported="$("$dir/$name" --version 2>&1 || true)"
  [[ "$reported" == *"$K8S_VERSION"* ]] || die "$name reports '$reported', expected $K8S_VERSION"
  install_bin "$dir/$name" "$name"
  log "$name: built $K8S_VERSION in $((SECONDS - start))s"
}

build_etcd
build_k8s_cmd kube-apiserver
build_k8s_cmd kube-controller-manager

cat >"$OUT_DIR/VERSIONS" <<EOF
kubernetes $K8S_VERSION
etcd $("$OUT_DIR/etcd" --version 2>/dev/null | sed -n 's/^etcd Version: //p')
go $(go env GOVERSION)
EOF

log "done in $((SECONDS - TOTAL_START))s: $OUT_DIR"
echo "$OUT_DIR"
