#!/usr/bin/env bash
# Builds the Go test peers of the original contract (test/go-peers: original-worker, original-coordinator)
# with grpc-go, and caches them outside the repository, keyed by a hash of their sources.
#
#   bash scripts/build-go-peers.sh           # build when missing, print the directory
#
# Output: ${TASKMASTER_TESTBIN:-$HOME/.cache/taskmaster/testbin}/go-peers-<hash>/{original-worker,original-coordinator}
# Needs Go, protoc (Debian `protobuf-compiler`) and the Go module proxy. The protoc plugins
# (protoc-gen-go, protoc-gen-go-grpc, at pinned versions) are installed into the cache too. The code
# generated from original.proto is written only into a scratch copy, never into the repository.
# Environment: TASKMASTER_TESTBIN (cache root), GO_PEERS_FORCE=1 (rebuild). See docs/testing-go-peers.md.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.31.0
PROTOC_GEN_GO_GRPC_VERSION=v1.3.0
CACHE_ROOT="${TASKMASTER_TESTBIN:-$HOME/.cache/taskmaster/testbin}"
SRC="$(cd "$(dirname "$0")/../test/go-peers" && pwd -P)"

log() { printf '[build-go-peers] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null 2>&1 || { [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null 2>&1 || die "Go is not installed (needed to build the Go test peers)"
command -v protoc >/dev/null 2>&1 || die "protoc is not installed (apt-get install protobuf-compiler)"
export GOWORK=off CGO_ENABLED=0

# The key covers everything the binaries are made from: sources, module files, plugin and protoc versions.
HASH="$(
  cd "$SRC"
  { find . -path ./grpcapi -prune -o -type f \( -name '*.go' -o -name '*.proto' -o -name 'go.mod' -o -name 'go.sum' \) -print |
      LC_ALL=C sort | xargs sha256sum
    echo "$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION $(protoc --version) $(go env GOVERSION)"
  } | sha256sum | cut -c1-16
)"
mkdir -p "$CACHE_ROOT"
CACHE_ROOT="$(cd "$CACHE_ROOT" && pwd -P)"
OUT_DIR="$CACHE_ROOT/go-peers-$HASH"
BINARIES=(original-worker original-coordinator)

have_all() {
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$OUT_DIR/$b" ]] || return 1; done
}
if [[ "${GO_PEERS_FORCE:-0}" != 1 ]] && have_all; then
  echo "$OUT_DIR"
  exit 0
fi

# Serialise concurrent builds (parallel jest workers, two terminals) on the same cache root.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE_ROOT/.go-peers.lock"
  flock 9
  if [[ "${GO_PEERS_FORCE:-0}" != 1 ]] && have_all; then
    echo "$OUT_DIR"
    exit 0
  fi
fi

PLUGINS="$CACHE_ROOT/protoc-plugins-go-$PROTOC_GEN_GO_VERSION-grpc-$PROTOC_GEN_GO_GRPC_VERSION"
if [[ ! -x "$PLUGINS/protoc-gen-go" || ! -x "$PLUGINS/protoc-gen-go-grpc" ]]; then
  log "installing protoc-gen-go $PROTOC_GEN_GO_VERSION and protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION into $PLUGINS"
  GOBIN="$PLUGINS" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
  GOBIN="$PLUGINS" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi

WORK="$(mktemp -d "$CACHE_ROOT/.go-peers.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
(cd "$SRC" && tar --exclude=./grpcapi -cf - .) | (cd "$WORK" && tar -xf -)
mkdir -p "$WORK/grpcapi"
log "generating from original.proto"
(cd "$WORK" && PATH="$PLUGINS:$PATH" protoc --go_out=grpcapi --go_opt=paths=source_relative \
  --go-grpc_out=grpcapi --go-grpc_opt=paths=source_relative original.proto)
log "building ${BINARIES[*]}"
mkdir -p "$OUT_DIR"
for b in "${BINARIES[@]}"; do
  (cd "$WORK" && go build -mod=readonly -trimpath -o "$WORK/$b.bin" "./cmd/$b")
  mv -f "$WORK/$b.bin" "$OUT_DIR/$b"
done
log "done: $OUT_DIR"
echo "$OUT_DIR"
