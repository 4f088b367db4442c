"""A stowd client in Python, from the .proto files alone.

It uses Debian's python3-grpcio and python3-protobuf, and stubs generated
from stowd's proto/stowd/v1 by buf with Debian's protoc (see
generate-stubs.sh; the stubs are build output, never committed). It writes a few MiB and reads them
back byte for byte, checks Head, lists with a delimiter, reads byte ranges,
stores a message type of its own (example.v1.Note, proto/example/v1/note.proto)
through ProtobufStoreService as a google.protobuf.Any and decodes it again, and
decodes stowd's ErrorDetail and the standard google.rpc.ErrorInfo from a
failed call's status details. Every step
checks what it got; the first wrong answer stops the script with exit code 1.

Run it against a daemon (`npm start` serves 127.0.0.1:50051):

    bash scripts/install-test-servers.sh        # once: protoc, grpc_python_plugin, python3-grpcio, ...
    bash examples/python/generate-stubs.sh /tmp/stowd-stubs
    PYTHONPATH=/tmp/stowd-stubs/python /usr/bin/python3 examples/python/stowd_example.py 127.0.0.1:50051

Use /usr/bin/python3: a pyenv or virtualenv python does not see Debian's
dist-packages. Options: --size-mib N (default 16), --prefix REF (default
file://example/python-<random>; the script deletes what it wrote there),
--connect-timeout S (default 10).
test/polyglot/python-client.test.ts runs it in CI.
"""

import argparse
import hashlib
import os
import sys
import uuid

try:
    import grpc
    from google.protobuf import any_pb2, timestamp_pb2
    from google.rpc import error_details_pb2, status_pb2
    from stowd.v1 import error_pb2, object_pb2, protobuf_store_pb2, protobuf_store_pb2_grpc, raw_store_pb2, raw_store_pb2_grpc
    from example.v1 import note_pb2
except ImportError as e:  # say what to do instead of a bare traceback
    sys.exit(
        f"cannot import the gRPC runtime or the generated stubs ({e}).\n"
        "Install the Debian packages with 'bash scripts/install-test-servers.sh', generate the stubs with\n"
        "'bash examples/python/generate-stubs.sh DIR', and run with PYTHONPATH=DIR/python /usr/bin/python3."
    )

MiB = 1024 * 1024
CHUNK = MiB  # WriteRaw chunks: up to the daemon's max message size (16 MiB by default)


class CheckFailed(Exception):
    pass


def check(condition, what):
    """Like assert, but not removed by `python -O`, and names what was expected."""
    if not condition:
        raise CheckFailed(what)
    print(f"ok: {what}", flush=True)


# ---------------------------------------------------------------- error details


def status_details(err):
    """The details (google.protobuf.Any) of a failed call's google.rpc.Status.

    gRPC servers send rich errors as a serialized google.rpc.Status in the
    `grpc-status-details-bin` trailer; stowd puts its own ErrorDetail there,
    then the standard google.rpc.ErrorInfo and, where a retry can succeed,
    google.rpc.RetryInfo. With pip's grpcio-status this is
    `grpc_status.rpc_status.from_call(err)`; Debian has no package for it, so
    the trailer is parsed directly.
    """
    for key, value in err.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        if status.code != err.code().value[0]:
            raise CheckFailed(f"status details say code {status.code}, the call said {err.code()}")
        return list(status.details)
    return []


def unpack_detail(err, message_type):
    """The first detail of type `message_type` in a failed call's status, or None."""
    for any_detail in status_details(err):
        if any_detail.Is(message_type.DESCRIPTOR):
            detail = message_type()
            any_detail.Unpack(detail)
            return detail
    return None


def error_detail(err):
    """The stowd.v1.ErrorDetail of a failed call, or None."""
    return unpack_detail(err, error_pb2.ErrorDetail)


def describe(err):
    try:
        detail = error_detail(err)
        reason = error_pb2.ErrorReason.Name(detail.reason) if detail is not None else "no ErrorDetail"
    except (CheckFailed, ValueError) as e:  # a malformed trailer: still report the call's own status
        reason = f"unreadable status details: {e}"
    return f"{err.code().name} ({reason}): {err.details()}"


def expect_error(call, code, reason, what):
    """Runs `call`, which must fail with `code` and an ErrorDetail with `reason`; returns the detail."""
    try:
        call()
    except grpc.RpcError as err:
        detail = error_detail(err)
        check(err.code() == code, f"{what}: status {code.name} (got {err.code().name}: {err.details()})")
        check(detail is not None and detail.reason == reason, f"{what}: ErrorDetail reason {error_pb2.ErrorReason.Name(reason)}")
        return detail
    raise CheckFailed(f"{what}: expected {code.name}, the call succeeded")


# ---------------------------------------------------------------- RawStoreService calls


def write_raw(raw, reference, data, content_type="", metadata=None, preconditions=None):
    """WriteRaw: one header message, then the bytes in chunks. Returns the new ObjectInfo."""

    def requests():
        header = raw_store_pb2.WriteRawHeader(
            reference=reference,
            size=len(data),  # declared size: a short or long stream stores nothing
            content_type=content_type,
            metadata=metadata or {},
            content_md5=hashlib.md5(data).digest(),  # the daemon verifies it (DATA_LOSS on mismatch)
        )
        if preconditions is not None:
            header.preconditions.CopyFrom(preconditions)
        yield raw_store_pb2.WriteRawRequest(header=header)
        view = memoryview(data)
        for offset in range(0, len(data), CHUNK):
            yield raw_store_pb2.WriteRawRequest(chunk=bytes(view[offset : offset + CHUNK]))

    return raw.WriteRaw(requests()).info


def read_raw(raw, reference, byte_range=None):
    """ReadRaw: returns (header, bytes). The header comes first, then the chunks."""
    request = raw_store_pb2.ReadRawRequest(reference=reference)
    if byte_range is not None:
        request.range.CopyFrom(byte_range)
    header = None
    chunks = []
    for message in raw.ReadRaw(request):
        if message.WhichOneof("body") == "header":
            header = message.header
        else:
            chunks.append(message.chunk)
    data = b"".join(chunks)
    if header is None or header.length != len(data):
        raise CheckFailed(f"ReadRaw {reference}: header {header} does not match the {len(data)} bytes received")
    return header, data


def list_all(raw, prefix, delimiter="", page_size=0):
    """List every page: returns (object references, common prefixes)."""
    references, prefixes, token = [], [], ""
    while True:
        page = raw.List(raw_store_pb2.ListRequest(reference=prefix, delimiter=delimiter, page_size=page_size, page_token=token))
        references += [o.reference for o in page.objects]
        prefixes += list(page.common_prefixes)
        token = page.next_page_token
        if not token:
            return references, prefixes


# ---------------------------------------------------------------- the walk-through


def run(address, size, prefix, connect_timeout):
    # Large messages both ways: ReadRaw chunks are 1 MiB, and the defaults are 4 MiB.
    options = [("grpc.max_receive_message_length", 16 * MiB), ("grpc.max_send_message_length", 16 * MiB)]
    with grpc.insecure_channel(address, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=connect_timeout)
        raw = raw_store_pb2_grpc.RawStoreServiceStub(channel)
        protobuf = protobuf_store_pb2_grpc.ProtobufStoreServiceStub(channel)

        info = raw.GetServerInfo(raw_store_pb2.GetServerInfoRequest())
        schemes = sorted(b.scheme for b in info.backends)
        print(f"stowd {info.version} at {address}, schemes {', '.join(schemes)}", flush=True)
        scheme = prefix.split("://", 1)[0]
        check(scheme in schemes, f"the daemon serves {scheme}://")

        # Write a few MiB of random bytes and read them back.
        blob_ref = f"{prefix}/data/blob.bin"
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        written = write_raw(raw, blob_ref, data, content_type="application/octet-stream", metadata={"written_by": "python"})
        check(written.size == size and written.etag != "", f"WriteRaw stored {size} bytes ({size / MiB:g} MiB), etag {written.etag}")
        check(written.content_md5 == hashlib.md5(data).digest(), "WriteRaw recorded the MD5 it was given")

        head = raw.Head(raw_store_pb2.HeadRequest(reference=blob_ref))
        check(head.exists, "Head: the object exists")
        check(head.info.size == size, f"Head: size {head.info.size}")
        check(head.info.etag == written.etag, "Head: etag equals the one WriteRaw returned")
        check(head.info.content_type == "application/octet-stream", "Head: content type kept")
        check(head.info.metadata.get("written_by") == "python", "Head: metadata kept")
        missing = raw.Head(raw_store_pb2.HeadRequest(reference=f"{prefix}/data/nothing-here"))
        check(not missing.exists and not missing.HasField("info"), "Head of a missing object: OK with exists = false")

        header, back = read_raw(raw, blob_ref)
        check(header.offset == 0 and header.length == size and header.info.etag == written.etag, "ReadRaw header: whole object, same etag")
        check(hashlib.sha256(back).hexdigest() == digest, f"ReadRaw returned the {size} bytes written, byte-identical (sha256 {digest[:16]}...)")

        # Byte ranges: offset + length, and the last N bytes.
        offset, length = size // 3 + 7, 100_000
        header, part = read_raw(raw, blob_ref, object_pb2.ByteRange(offset=offset, length=length))
        check(header.offset == offset and part == data[offset : offset + length], f"ranged read: {length} bytes at offset {offset}")
        header, tail = read_raw(raw, blob_ref, object_pb2.ByteRange(suffix_length=1000))
        check(header.offset == size - 1000 and tail == data[-1000:], "suffix range: the last 1000 bytes")

        # A listing with a delimiter: objects directly under the prefix, "directories" rolled up.
        for key in ("data/a.txt", "data/b.txt", "data/logs/1.txt", "data/logs/2.txt", "data/tmp/x.txt"):
            write_raw(raw, f"{prefix}/{key}", f"{key}\n".encode(), content_type="text/plain")
        objects, prefixes = list_all(raw, f"{prefix}/data/", delimiter="/", page_size=2)
        check(
            objects == [f"{prefix}/data/a.txt", f"{prefix}/data/b.txt", blob_ref],
            f"List with delimiter '/': objects {[o.rsplit('/', 1)[1] for o in objects]}",
        )
        check(prefixes == [f"{prefix}/data/logs/", f"{prefix}/data/tmp/"], f"List with delimiter '/': common prefixes {prefixes}")
        objects, _ = list_all(raw, f"{prefix}/data/logs/")
        check(objects == [f"{prefix}/data/logs/1.txt", f"{prefix}/data/logs/2.txt"], "List without delimiter: everything under data/logs/")

        # A message type of our own, stored as an Any and decoded again.
        note = note_pb2.Note(
            title="blob checked",
            body=f"sha256 {digest}",
            tags=["python", "example"],
            priority=note_pb2.PRIORITY_HIGH,
            created_at=timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=123),
            object_size=size,
        )
        packed = any_pb2.Any()
        packed.Pack(note)
        check(packed.type_url == "type.googleapis.com/example.v1.Note", f"packed as {packed.type_url}")
        note_ref = f"{prefix}/notes/blob.pb"
        stored = protobuf.WriteProtobuf(protobuf_store_pb2.WriteProtobufRequest(reference=note_ref, message=packed))
        check(stored.info.size == len(note.SerializeToString()), f"WriteProtobuf stored {stored.info.size} bytes")
        answer = protobuf.ReadProtobuf(protobuf_store_pb2.ReadProtobufRequest(reference=note_ref, type_url=packed.type_url))
        check(answer.message.type_url == packed.type_url, f"ReadProtobuf: type URL {answer.message.type_url}")
        decoded = note_pb2.Note()
        check(answer.message.Unpack(decoded) and decoded == note, f"ReadProtobuf: decoded Note equals the one written ({decoded.title!r}, tags {list(decoded.tags)})")
        check(answer.info.metadata.get("stowd_type_url") == packed.type_url, "the type URL is kept in the object's metadata")
        _, stored_bytes = read_raw(raw, note_ref)
        check(stored_bytes == note.SerializeToString(), "ReadRaw of the protobuf object: exactly the Note's wire bytes")

        # Errors: the gRPC code says what kind, the ErrorDetail says exactly what.
        missing_ref = f"{prefix}/data/nothing-here"
        detail = expect_error(
            lambda: read_raw(raw, missing_ref),
            grpc.StatusCode.NOT_FOUND,
            error_pb2.ERROR_REASON_NOT_FOUND,
            "ReadRaw of a missing object",
        )
        check(detail.reference == missing_ref, f"ErrorDetail names the reference {detail.reference}")
        # The same error in the standard form generic gRPC tooling reads: google.rpc.ErrorInfo.
        try:
            read_raw(raw, missing_ref)
        except grpc.RpcError as err:
            info = unpack_detail(err, error_details_pb2.ErrorInfo)
            check(info is not None and (info.reason, info.domain) == ("NOT_FOUND", "stowd.dev"), "google.rpc.ErrorInfo: reason NOT_FOUND, domain stowd.dev")
            check(info.metadata.get("reference") == missing_ref, "google.rpc.ErrorInfo metadata names the reference")
            check(unpack_detail(err, error_details_pb2.RetryInfo) is None, "no google.rpc.RetryInfo: retrying a NOT_FOUND cannot help")
        expect_error(
            lambda: write_raw(raw, blob_ref, b"not again", preconditions=object_pb2.Preconditions(if_not_exists=True)),
            grpc.StatusCode.ALREADY_EXISTS,
            error_pb2.ERROR_REASON_ALREADY_EXISTS,
            "create-only write over an existing object",
        )
        expect_error(
            lambda: protobuf.ReadProtobuf(protobuf_store_pb2.ReadProtobufRequest(reference=note_ref, type_url="type.googleapis.com/google.protobuf.Duration")),
            grpc.StatusCode.FAILED_PRECONDITION,
            error_pb2.ERROR_REASON_TYPE_MISMATCH,
            "ReadProtobuf asking for another type",
        )
        detail = expect_error(
            lambda: raw.Head(raw_store_pb2.HeadRequest(reference=f"{prefix}/a/../b")),
            grpc.StatusCode.INVALID_ARGUMENT,
            error_pb2.ERROR_REASON_INVALID_REFERENCE,
            "Head of a reference with '..'",
        )
        print(f"   (the daemon said: {detail.message})", flush=True)
        check(head.info.etag == raw.Head(raw_store_pb2.HeadRequest(reference=blob_ref)).info.etag, "the refused write changed nothing")

        # Clean up what this run wrote.
        deleted = raw.DeletePrefix(raw_store_pb2.DeletePrefixRequest(reference=f"{prefix}/"))
        check(deleted.deleted_count == 7, f"DeletePrefix removed {deleted.deleted_count} objects")
        check(not raw.Head(raw_store_pb2.HeadRequest(reference=blob_ref)).exists, "the blob is gone")


def main():
    parser = argparse.ArgumentParser(description="stowd example client: write, head, list, read back, ranges, protobuf store, error details")
    parser.add_argument("address", help="the daemon's gRPC address, host:port (e.g. 127.0.0.1:50051)")
    parser.add_argument("--size-mib", type=float, default=16, help="size of the object written and read back (default 16)")
    parser.add_argument("--prefix", default=f"file://example/python-{uuid.uuid4().hex[:8]}", help="where to write (default file://example/python-<random>)")
    parser.add_argument("--connect-timeout", type=float, default=10, help="seconds to wait for the daemon to answer (default 10)")
    args = parser.parse_args()
    size = int(args.size_mib * MiB)
    if size < 1_000_000:
        parser.error("--size-mib must be at least 1 (the ranged reads need the bytes)")
    try:
        run(args.address, size, args.prefix.rstrip("/"), args.connect_timeout)
    except CheckFailed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    except grpc.RpcError as e:
        print(f"FAILED: unexpected error from stowd: {describe(e)}", file=sys.stderr)
        return 1
    except grpc.FutureTimeoutError:
        print(f"FAILED: no gRPC server answered at {args.address} within {args.connect_timeout:g} s", file=sys.stderr)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
