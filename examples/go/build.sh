#!/usr/bin/env bash
# Builds the Go example client offline with Debian's Go toolchain in GOPATH
# mode: the contract's stubs (scripts/generate-polyglot.sh) and the example's
# Note type (examples/go/buf.gen.yaml) are generated into OUT/go/src, gRPC,
# protobuf and genproto come from Debian's /usr/share/gocode. No module
# download, no network. Writes the binary OUT/stowd-example.
#
#   bash examples/go/build.sh OUT
#   OUT/stowd-example 127.0.0.1:50051
#
# Debian packages (from `bash scripts/install-test-servers.sh`): golang-go,
# golang-google-grpc-dev, golang-google-genproto-dev,
# golang-github-golang-protobuf-1-5-dev, protoc-gen-go, protoc-gen-go-grpc.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash examples/go/build.sh OUT" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
command -v go >/dev/null 2>&1 || {
  echo "go is not installed; run 'bash scripts/install-test-servers.sh' (Debian package golang-go)" >&2
  exit 1
}
for dir in google.golang.org/grpc google.golang.org/genproto/googleapis/rpc/errdetails google.golang.org/protobuf/proto; do
  [ -d "/usr/share/gocode/src/$dir" ] || {
    echo "/usr/share/gocode/src/$dir is missing; run 'bash scripts/install-test-servers.sh' (Debian packages golang-google-grpc-dev, golang-google-genproto-dev, golang-github-golang-protobuf-1-5-dev)" >&2
    exit 1
  }
done
mkdir -p "$1"
out="$(cd "$1" && pwd)"
bash "$repo/scripts/generate-polyglot.sh" "$out"
cd "$repo"
npx --no-install buf generate --template examples/go/buf.gen.yaml --output "$out"
# go build needs a cache; without HOME (some CI environments) Go has none.
cache="$(go env GOCACHE)"
if [ -z "$cache" ] || [ "$cache" = off ]; then export GOCACHE="$out/go-build-cache"; fi
# GOPATH mode: Debian packages Go libraries as a GOPATH tree, not as modules.
GO111MODULE=off GOPATH="$out/go:/usr/share/gocode" GOPROXY=off GOFLAGS= \
  go build -o "$out/stowd-example" ./examples/go
