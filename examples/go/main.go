// Command stowd-example is a stowd client in Go, from the .proto files alone.
//
// It does the round trip of the Python example (examples/python): writes a
// few MiB and reads them back byte for byte, checks Head, lists with a
// delimiter, reads byte ranges, stores a message type of its own
// (example.v1.Note) through ProtobufStoreService as a google.protobuf.Any and
// decodes it again, and reads the error details of failed calls: stowd's
// ErrorDetail, and the standard google.rpc.ErrorInfo through genproto's
// errdetails, as any generic gRPC tooling would. Every step checks what it
// got; the first wrong answer stops the program with exit code 1.
//
// Build it offline with Debian's Go toolchain and run it against a daemon
// (`npm start` serves 127.0.0.1:50051):
//
//	bash scripts/install-test-servers.sh   # once: golang-go, golang-google-grpc-dev, protoc-gen-go, ...
//	bash examples/go/build.sh /tmp/stowd-go
//	/tmp/stowd-go/stowd-example 127.0.0.1:50051
//
// Options: -size-mib N (default 16), -prefix REF (default
// file://example/go-<random>; the program deletes what it wrote there),
// -connect-timeout D (default 10s). test/polyglot/go-client.test.ts runs it
// in CI.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	examplev1 "github.com/stowd/stowd/examples/gen/go/example/v1"
	stowdv1 "github.com/stowd/stowd/gen/go/stowd/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

const (
	mib   = 1024 * 1024
	chunk = mib // WriteRaw chunks: up to the daemon's max message size (16 MiB by default)
)

// checkFailed is a wrong answer from the daemon.
type checkFailed struct{ what string }

func (c checkFailed) Error() string { return c.what }

// check is like an assertion that names what was expected; it prints "ok: what" when it holds.
func check(condition bool, what string) {
	if !condition {
		panic(checkFailed{what})
	}
	fmt.Printf("ok: %s\n", what)
}

// must stops on an unexpected error from a call.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// ---------------------------------------------------------------- error details

// errorDetail returns stowd's ErrorDetail from a failed call's status details.
// Importing the generated package registers the type, so Details() unpacks it.
func errorDetail(st *status.Status) *stowdv1.ErrorDetail {
	for _, d := range st.Details() {
		if detail, ok := d.(*stowdv1.ErrorDetail); ok {
			return detail
		}
	}
	return nil
}

// errorInfo returns the standard google.rpc.ErrorInfo, decoded by genproto's errdetails.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

func hasRetryInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if _, ok := d.(*errdetails.RetryInfo); ok {
			return true
		}
	}
	return false
}

func describe(err error) string {
	st := status.Convert(err)
	reason := "no ErrorDetail"
	if detail := errorDetail(st); detail != nil {
		reason = detail.Reason.String()
	}
	return fmt.Sprintf("%s (%s): %s", strings.ToUpper(codeName(st.Code())), reason, st.Message())
}

// codeName spells a code the way gRPC's other languages do (RESOURCE_EXHAUSTED).
func codeName(c codes.Code) string {
	name := c.String()
	var b strings.Builder
	for i, r := range name {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	if c == codes.Canceled {
		return "CANCELLED"
	}
	return strings.ToUpper(b.String())
}

// expectError runs call, which must fail with code and an ErrorDetail with reason; returns the status.
func expectError(call func() error, code codes.Code, reason stowdv1.ErrorReason, what string) *status.Status {
	err := call()
	if err == nil {
		panic(checkFailed{fmt.Sprintf("%s: expected %s, the call succeeded", what, codeName(code))})
	}
	st := status.Convert(err)
	check(st.Code() == code, fmt.Sprintf("%s: status %s (got %s: %s)", what, codeName(code), codeName(st.Code()), st.Message()))
	detail := errorDetail(st)
	check(detail != nil && detail.Reason == reason, fmt.Sprintf("%s: ErrorDetail reason %s", what, reason))
	return st
}

// ---------------------------------------------------------------- RawStoreService calls

// writeRaw sends one header message, then the bytes in chunks; returns the new ObjectInfo.
func writeRaw(ctx context.Context, raw stowdv1.RawStoreServiceClient, header *stowdv1.WriteRawHeader, data []byte) (*stowdv1.ObjectInfo, error) {
	sum := md5.Sum(data)
	header.Size = proto.Int64(int64(len(data))) // declared size: a short or long stream stores nothing
	header.ContentMd5 = sum[:]                  // the daemon verifies it (DATA_LOSS on mismatch)
	stream, err := raw.WriteRaw(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&stowdv1.WriteRawRequest{Body: &stowdv1.WriteRawRequest_Header{Header: header}}); err != nil {
		return nil, closeWithStatus(stream)
	}
	for offset := 0; offset < len(data); offset += chunk {
		end := offset + chunk
		if end > len(data) {
			end = len(data)
		}
		if err := stream.Send(&stowdv1.WriteRawRequest{Body: &stowdv1.WriteRawRequest_Chunk{Chunk: data[offset:end]}}); err != nil {
			// io.EOF: the daemon answered early (a refusal); the answer says why.
			return nil, closeWithStatus(stream)
		}
	}
	response, err := stream.CloseAndRecv()
	if err != nil {
		return nil, err
	}
	return response.Info, nil
}

func closeWithStatus(stream stowdv1.RawStoreService_WriteRawClient) error {
	_, err := stream.CloseAndRecv()
	return err
}

// readRaw returns the header and the bytes; the header comes first, then the chunks.
func readRaw(ctx context.Context, raw stowdv1.RawStoreServiceClient, reference string, byteRange *stowdv1.ByteRange) (*stowdv1.ReadRawHeader, []byte, error) {
	stream, err := raw.ReadRaw(ctx, &stowdv1.ReadRawRequest{Reference: reference, Range: byteRange})
	if err != nil {
		return nil, nil, err
	}
	var header *stowdv1.ReadRawHeader
	var data bytes.Buffer
	for {
		message, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		switch body := message.Body.(type) {
		case *stowdv1.ReadRawResponse_Header:
			header = body.Header
		case *stowdv1.ReadRawResponse_Chunk:
			data.Write(body.Chunk)
		}
	}
	if header == nil || header.Length != int64(data.Len()) {
		panic(checkFailed{fmt.Sprintf("ReadRaw %s: header %v does not match the %d bytes received", reference, header, data.Len())})
	}
	return header, data.Bytes(), nil
}

// listAll lists every page: object references and common prefixes.
func listAll(ctx context.Context, raw stowdv1.RawStoreServiceClient, prefix, delimiter string, pageSize int32) ([]string, []string) {
	var references, prefixes []string
	token := ""
	for {
		page, err := raw.List(ctx, &stowdv1.ListRequest{Reference: prefix, Delimiter: delimiter, PageSize: pageSize, PageToken: token})
		must(err)
		for _, o := range page.Objects {
			references = append(references, o.Reference)
		}
		prefixes = append(prefixes, page.CommonPrefixes...)
		token = page.NextPageToken
		if token == "" {
			return references, prefixes
		}
	}
}

func lastSegments(references []string) []string {
	names := make([]string, len(references))
	for i, r := range references {
		names[i] = r[strings.LastIndex(r, "/")+1:]
	}
	return names
}

// ---------------------------------------------------------------- the walk-through

func run(address string, size int, prefix string, connectTimeout time.Duration) {
	dialCtx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := grpc.DialContext(dialCtx, address,
		grpc.WithInsecure(), grpc.WithBlock(), // plaintext HTTP/2 (h2c), as the daemon serves by default
		// Large messages: ReadProtobuf answers can be up to the daemon's 16 MiB maximum.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16*mib), grpc.MaxCallSendMsgSize(16*mib)))
	if err != nil {
		panic(noServer{address, connectTimeout})
	}
	defer conn.Close()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Minute)
	defer stop()
	raw := stowdv1.NewRawStoreServiceClient(conn)
	protobuf := stowdv1.NewProtobufStoreServiceClient(conn)

	info, err := raw.GetServerInfo(ctx, &stowdv1.GetServerInfoRequest{})
	must(err)
	var schemes []string
	for _, b := range info.Backends {
		schemes = append(schemes, b.Scheme)
	}
	fmt.Printf("stowd %s at %s, schemes %s\n", info.Version, address, strings.Join(schemes, ", "))
	scheme := prefix[:strings.Index(prefix, "://")]
	check(strings.Contains(","+strings.Join(schemes, ",")+",", ","+scheme+","), fmt.Sprintf("the daemon serves %s://", scheme))

	// Write a few MiB of random bytes and read them back.
	blobRef := prefix + "/data/blob.bin"
	data := make([]byte, size)
	_, err = rand.Read(data)
	must(err)
	digest := sha256.Sum256(data)
	// CRC32C, which Go's standard library computes: the daemon verifies it before committing and stores it.
	crc := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))
	written, err := writeRaw(ctx, raw, &stowdv1.WriteRawHeader{
		Reference: blobRef, ContentType: "application/octet-stream", Metadata: map[string]string{"written_by": "go"},
		Crc32C: proto.Uint32(crc),
	}, data)
	must(err)
	check(written.Size == int64(size) && written.Etag != "", fmt.Sprintf("WriteRaw stored %d bytes (%g MiB), etag %s", size, float64(size)/mib, written.Etag))
	sum := md5.Sum(data)
	check(bytes.Equal(written.ContentMd5, sum[:]), "WriteRaw recorded the MD5 it was given")

	head, err := raw.Head(ctx, &stowdv1.HeadRequest{Reference: blobRef})
	must(err)
	check(head.Exists, "Head: the object exists")
	check(head.Info.Size == int64(size), fmt.Sprintf("Head: size %d", head.Info.Size))
	check(head.Info.Etag == written.Etag, "Head: etag equals the one WriteRaw returned")
	check(head.Info.ContentType == "application/octet-stream", "Head: content type kept")
	check(head.Info.Metadata["written_by"] == "go", "Head: metadata kept")
	check(head.Info.Crc32C != nil && *head.Info.Crc32C == crc, fmt.Sprintf("Head: CRC32C %08x, the one declared", crc))
	missing, err := raw.Head(ctx, &stowdv1.HeadRequest{Reference: prefix + "/data/nothing-here"})
	must(err)
	check(!missing.Exists && missing.Info == nil, "Head of a missing object: OK with exists = false")

	header, back, err := readRaw(ctx, raw, blobRef, nil)
	must(err)
	check(header.Offset == 0 && header.Length == int64(size) && header.Info.Etag == written.Etag, "ReadRaw header: whole object, same etag")
	backDigest := sha256.Sum256(back)
	check(backDigest == digest, fmt.Sprintf("ReadRaw returned the %d bytes written, byte-identical (sha256 %s...)", size, hex.EncodeToString(digest[:8])))

	// Byte ranges: offset + length, and the last N bytes.
	offset, length := size/3+7, 100_000
	header, part, err := readRaw(ctx, raw, blobRef, &stowdv1.ByteRange{Offset: int64(offset), Length: int64(length)})
	must(err)
	check(header.Offset == int64(offset) && bytes.Equal(part, data[offset:offset+length]), fmt.Sprintf("ranged read: %d bytes at offset %d", length, offset))
	header, tail, err := readRaw(ctx, raw, blobRef, &stowdv1.ByteRange{SuffixLength: 1000})
	must(err)
	check(header.Offset == int64(size-1000) && bytes.Equal(tail, data[size-1000:]), "suffix range: the last 1000 bytes")

	// A listing with a delimiter: objects directly under the prefix, "directories" rolled up.
	for _, key := range []string{"data/a.txt", "data/b.txt", "data/logs/1.txt", "data/logs/2.txt", "data/tmp/x.txt"} {
		_, err := writeRaw(ctx, raw, &stowdv1.WriteRawHeader{Reference: prefix + "/" + key, ContentType: "text/plain"}, []byte(key+"\n"))
		must(err)
	}
	objects, prefixes := listAll(ctx, raw, prefix+"/data/", "/", 2)
	check(reflect.DeepEqual(objects, []string{prefix + "/data/a.txt", prefix + "/data/b.txt", blobRef}),
		fmt.Sprintf("List with delimiter '/': objects %v", lastSegments(objects)))
	check(reflect.DeepEqual(prefixes, []string{prefix + "/data/logs/", prefix + "/data/tmp/"}),
		fmt.Sprintf("List with delimiter '/': common prefixes %v", prefixes))
	objects, _ = listAll(ctx, raw, prefix+"/data/logs/", "", 0)
	check(reflect.DeepEqual(objects, []string{prefix + "/data/logs/1.txt", prefix + "/data/logs/2.txt"}), "List without delimiter: everything under data/logs/")

	// A message type of our own, stored as an Any and decoded again.
	note := &examplev1.Note{
		Title:      "blob checked",
		Body:       "sha256 " + hex.EncodeToString(digest[:]),
		Tags:       []string{"go", "example"},
		Priority:   examplev1.Priority_PRIORITY_HIGH,
		CreatedAt:  &timestamppb.Timestamp{Seconds: 1_700_000_000, Nanos: 123},
		ObjectSize: int64(size),
	}
	packed, err := anypb.New(note)
	must(err)
	check(packed.TypeUrl == "type.googleapis.com/example.v1.Note", "packed as "+packed.TypeUrl)
	noteRef := prefix + "/notes/blob.pb"
	noteBytes, err := proto.Marshal(note)
	must(err)
	stored, err := protobuf.WriteProtobuf(ctx, &stowdv1.WriteProtobufRequest{Reference: noteRef, Message: packed})
	must(err)
	check(stored.Info.Size == int64(len(noteBytes)), fmt.Sprintf("WriteProtobuf stored %d bytes", stored.Info.Size))
	answer, err := protobuf.ReadProtobuf(ctx, &stowdv1.ReadProtobufRequest{Reference: noteRef, TypeUrl: packed.TypeUrl})
	must(err)
	check(answer.Message.TypeUrl == packed.TypeUrl, "ReadProtobuf: type URL "+answer.Message.TypeUrl)
	var decoded examplev1.Note
	must(answer.Message.UnmarshalTo(&decoded))
	check(proto.Equal(&decoded, note), fmt.Sprintf("ReadProtobuf: decoded Note equals the one written (%q, tags %v)", decoded.Title, decoded.Tags))
	check(answer.Info.Metadata["stowd_type_url"] == packed.TypeUrl, "the type URL is kept in the object's metadata")
	_, storedBytes, err := readRaw(ctx, raw, noteRef, nil)
	must(err)
	check(bytes.Equal(storedBytes, noteBytes), "ReadRaw of the protobuf object: exactly the Note's wire bytes")

	// Errors: the gRPC code says what kind, the ErrorDetail says exactly what,
	// and google.rpc.ErrorInfo says it in the form generic tooling reads.
	missingRef := prefix + "/data/nothing-here"
	st := expectError(func() error { _, _, err := readRaw(ctx, raw, missingRef, nil); return err },
		codes.NotFound, stowdv1.ErrorReason_ERROR_REASON_NOT_FOUND, "ReadRaw of a missing object")
	check(errorDetail(st).Reference == missingRef, "ErrorDetail names the reference "+errorDetail(st).Reference)
	errInfo := errorInfo(st)
	check(errInfo != nil && errInfo.Reason == "NOT_FOUND" && errInfo.Domain == "stowd.dev", "google.rpc.ErrorInfo (genproto errdetails): reason NOT_FOUND, domain stowd.dev")
	check(errInfo.Metadata["reference"] == missingRef, "google.rpc.ErrorInfo metadata names the reference")
	check(!hasRetryInfo(st), "no google.rpc.RetryInfo: retrying a NOT_FOUND cannot help")
	expectError(func() error {
		_, err := writeRaw(ctx, raw, &stowdv1.WriteRawHeader{Reference: blobRef, Preconditions: &stowdv1.Preconditions{IfNotExists: true}}, []byte("not again"))
		return err
	}, codes.AlreadyExists, stowdv1.ErrorReason_ERROR_REASON_ALREADY_EXISTS, "create-only write over an existing object")
	expectError(func() error {
		_, err := writeRaw(ctx, raw, &stowdv1.WriteRawHeader{Reference: blobRef, Crc32C: proto.Uint32(crc ^ 1)}, data)
		return err
	}, codes.DataLoss, stowdv1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH, "a write whose bytes do not match its declared CRC32C")
	expectError(func() error {
		_, err := protobuf.ReadProtobuf(ctx, &stowdv1.ReadProtobufRequest{Reference: noteRef, TypeUrl: "type.googleapis.com/google.protobuf.Duration"})
		return err
	}, codes.FailedPrecondition, stowdv1.ErrorReason_ERROR_REASON_TYPE_MISMATCH, "ReadProtobuf asking for another type")
	st = expectError(func() error {
		_, err := raw.Head(ctx, &stowdv1.HeadRequest{Reference: prefix + "/a/../b"})
		return err
	}, codes.InvalidArgument, stowdv1.ErrorReason_ERROR_REASON_INVALID_REFERENCE, "Head of a reference with '..'")
	fmt.Printf("   (the daemon said: %s)\n", errorDetail(st).Message)
	again, err := raw.Head(ctx, &stowdv1.HeadRequest{Reference: blobRef})
	must(err)
	check(again.Info.Etag == head.Info.Etag, "the refused writes changed nothing")

	// Clean up what this run wrote.
	deleted, err := raw.DeletePrefix(ctx, &stowdv1.DeletePrefixRequest{Reference: prefix + "/"})
	must(err)
	check(deleted.DeletedCount == 7, fmt.Sprintf("DeletePrefix removed %d objects", deleted.DeletedCount))
	gone, err := raw.Head(ctx, &stowdv1.HeadRequest{Reference: blobRef})
	must(err)
	check(!gone.Exists, "the blob is gone")
}

type noServer struct {
	address string
	timeout time.Duration
}

func main() {
	sizeMiB := flag.Float64("size-mib", 16, "size of the object written and read back, in MiB")
	random := make([]byte, 4)
	_, _ = rand.Read(random)
	prefix := flag.String("prefix", "file://example/go-"+hex.EncodeToString(random), "where to write; the program deletes what it wrote there")
	connectTimeout := flag.Duration("connect-timeout", 10*time.Second, "how long to wait for the daemon to answer")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [options] ADDRESS (the daemon's gRPC address, e.g. 127.0.0.1:50051)\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	size := int(*sizeMiB * mib)
	if size < 1_000_000 {
		fmt.Fprintln(os.Stderr, "-size-mib must be at least 1 (the ranged reads need the bytes)")
		os.Exit(2)
	}
	os.Exit(runReporting(flag.Arg(0), size, strings.TrimRight(*prefix, "/"), *connectTimeout))
}

// runReporting turns a wrong answer or an unexpected error into one FAILED line and exit code 1.
func runReporting(address string, size int, prefix string, connectTimeout time.Duration) (code int) {
	defer func() {
		switch failure := recover().(type) {
		case nil:
		case checkFailed:
			fmt.Fprintf(os.Stderr, "FAILED: %s\n", failure.what)
			code = 1
		case noServer:
			fmt.Fprintf(os.Stderr, "FAILED: no gRPC server answered at %s within %s\n", failure.address, failure.timeout)
			code = 1
		case error:
			fmt.Fprintf(os.Stderr, "FAILED: unexpected error from stowd: %s\n", describe(failure))
			code = 1
		default:
			panic(failure)
		}
	}()
	run(address, size, prefix, connectTimeout)
	fmt.Println("all checks passed")
	return 0
}
