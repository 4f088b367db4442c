#!/usr/bin/env bash
# Installs the Debian packages of the servers the backend tests start on
# loopback ports: redis-server, and Ceph (mon, osd, mgr, radosgw) for S3.
# azurite comes from npm (devDependencies); GCS uses our own test server.
# Safe to run again: installs only what is missing.
set -euo pipefail
need=()
for pkg in redis-server radosgw ceph-mon ceph-osd ceph-mgr; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# openssl makes the TLS tests' certificates. The Python example client test (test/polyglot): Debian's python3 with grpcio
# and protobuf, protoc 3.21 with grpc_python_plugin, the well-known .proto files.
# The Go example client: Debian's Go toolchain with gRPC and the protoc plugins (GOPATH mode, offline). The
# generated code is protobuf APIv2 (golang-google-protobuf-dev); grpc and genproto accept golang/protobuf 1.3 or
# 1.5, and only 1.5 works with APIv2 messages: it is named here so apt picks it (and replaces 1.3 if present).
# The browser tests: Debian's chromium, driven by playwright-core.
for pkg in openssl python3 python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc libprotobuf-dev \
  golang-go golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev golang-google-grpc-dev golang-google-genproto-dev \
  protoc-gen-go protoc-gen-go-grpc chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "test servers already installed"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${need[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
