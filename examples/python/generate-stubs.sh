#!/usr/bin/env bash
# Generates the Python modules the example client imports into OUT (build
# output: never commit it): stowd's contract from proto/stowd/v1, the
# example's own message type (proto/example/v1/note.proto) and
# google.rpc.Status (proto/google/rpc/status.proto), for decoding error details.
#
#   bash examples/python/generate-stubs.sh OUT
#
# Uses Debian's protoc (3.21, which accepts proto3 `optional`; the protoc 3.5
# bundled in python3-grpc-tools does not) with grpc_python_plugin, and the
# well-known types from libprotobuf-dev under /usr/include. All three come from
# `bash scripts/install-test-servers.sh`.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash examples/python/generate-stubs.sh OUT" >&2
  exit 2
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="$1"
include="${PROTOC_INCLUDE:-/usr/include}"
for tool in protoc grpc_python_plugin; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool is not installed; run 'bash scripts/install-test-servers.sh' (Debian packages protobuf-compiler, protobuf-compiler-grpc)" >&2
    exit 1
  }
done
[ -f "$include/google/protobuf/any.proto" ] || {
  echo "$include/google/protobuf/any.proto is missing; run 'bash scripts/install-test-servers.sh' (Debian package libprotobuf-dev)" >&2
  exit 1
}
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$repo/proto"
protoc --plugin=protoc-gen-grpc_python="$(command -v grpc_python_plugin)" \
  -I"$include" -I. -I"$here/proto" \
  --python_out="$out" --grpc_python_out="$out" \
  stowd/v1/*.proto example/v1/note.proto google/rpc/status.proto
