#!/usr/bin/env bash
# Generates the Python modules the example client imports into OUT/python
# (build output: never commit it): stowd's contract through the polyglot buf
# template (scripts/generate-polyglot.sh, which also writes Go stubs under
# OUT/go), then, with examples/python/buf.gen.yaml, the example's own message
# type (example.v1.Note) and the googleapis messages for error details
# (google.rpc.Status, ErrorInfo, RetryInfo: examples/python/proto/google/rpc).
#
#   bash examples/python/generate-stubs.sh OUT
#   PYTHONPATH=OUT/python /usr/bin/python3 examples/python/stowd_example.py 127.0.0.1:50051
#
# Plugins are local: Debian's protoc 3.21 (the protoc 3.5 bundled in
# python3-grpc-tools rejects proto3 `optional`) and grpc_python_plugin, from
# `bash scripts/install-test-servers.sh`.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash examples/python/generate-stubs.sh OUT" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$1"
out="$(cd "$1" && pwd)"
bash "$repo/scripts/generate-polyglot.sh" "$out"
cd "$repo"
npx --no-install buf generate --template examples/python/buf.gen.yaml --output "$out"
