#!/usr/bin/env bash
# Generates Go and Python stubs for stowd's contract (proto/stowd/v1) into
# OUTDIR with buf.gen.polyglot.yaml: OUTDIR/go/src/... (a GOPATH) and
# OUTDIR/python (a PYTHONPATH entry). Build output: never commit it.
#
#   bash scripts/generate-polyglot.sh OUTDIR
#
# The plugins are local: Debian's protoc-gen-go, protoc-gen-go-grpc, protoc
# (3.21: proto3 `optional`) and grpc_python_plugin, from
# `bash scripts/install-test-servers.sh`. buf comes from the repo's npm
# dependencies (npx buf).
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/generate-polyglot.sh OUTDIR" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd)"
for tool in protoc protoc-gen-go protoc-gen-go-grpc grpc_python_plugin; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "$tool is not installed; run 'bash scripts/install-test-servers.sh' (Debian packages protobuf-compiler, protoc-gen-go, protoc-gen-go-grpc, protobuf-compiler-grpc)" >&2
    exit 1
  }
done
mkdir -p "$1"
out="$(cd "$1" && pwd)"
cd "$repo"
npx --no-install buf generate --template buf.gen.polyglot.yaml --output "$out"
