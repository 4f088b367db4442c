// The browser's transport: connect-web's Connect protocol (binary) over
// fetch to the daemon's HTTP port. fetch cannot stream a request body (not
// at all over HTTP/1.1, and only half-duplex over HTTP/2 in some browsers),
// so connect-web refuses client-streaming methods; WriteRaw and Append are
// client streams. For those this transport sends the whole stream as one
// request body: every message enveloped as the Connect protocol frames it,
// then one fetch. The daemon cannot tell the difference; the cost is that
// a browser upload is held in memory until it is sent.
import type { DescMessage, DescMethodStreaming, MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type ContextValues,
  type Interceptor,
  type StreamResponse,
  type Transport,
} from "@connectrpc/connect";
import {
  compressedFlag,
  createClientMethodSerializers,
  createEnvelopeReadableStream,
  createMethodUrl,
  encodeEnvelope,
  runStreamingCall,
} from "@connectrpc/connect/protocol";
import { endStreamFlag, endStreamFromJson, requestHeader, validateResponse } from "@connectrpc/connect/protocol-connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { callInterceptors } from "./call-interceptors.js";

export interface BrowserTransportOptions {
  /** The daemon's HTTP port, e.g. `http://127.0.0.1:8080` (it must allow this page's origin: CORS). */
  baseUrl: string;
  /** Bearer token for a daemon with auth on. */
  token?: string;
  /** Interceptors applied to every call. */
  interceptors?: Interceptor[];
  /** Send the active OpenTelemetry trace context with every call (W3C `traceparent`; nothing without a registered propagator). Default true. */
  traceContext?: boolean;
  /** The fetch to use; default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
}

/** A Connect-protocol transport over fetch whose client-streaming calls send one buffered request body. */
export function createBrowserTransport(options: BrowserTransportOptions): Transport {
  const interceptors = callInterceptors(options);
  const fetchOption = options.fetch === undefined ? {} : { fetch: options.fetch };
  const web = createConnectTransport({ baseUrl: options.baseUrl, useBinaryFormat: true, interceptors, ...fetchOption });
  // Called through a closure: a browser's fetch throws "Illegal invocation" when called as another object's method.
  const fetch = options.fetch ?? ((...args: Parameters<typeof globalThis.fetch>) => globalThis.fetch(...args));
  return {
    unary: (...args) => web.unary(...args),
    stream(method, signal, timeoutMs, header, input, contextValues) {
      if (method.methodKind !== "client_streaming") {
        return web.stream(method, signal, timeoutMs, header, input, contextValues);
      }
      return bufferedClientStream(
        method,
        { baseUrl: options.baseUrl, interceptors, fetch },
        signal,
        timeoutMs,
        header,
        input,
        contextValues,
      );
    },
  };
}

async function bufferedClientStream<I extends DescMessage, O extends DescMessage>(
  method: DescMethodStreaming<I, O>,
  options: { baseUrl: string; interceptors: Interceptor[]; fetch: typeof globalThis.fetch },
  signal: AbortSignal | undefined,
  timeoutMs: number | undefined,
  header: HeadersInit | undefined,
  input: AsyncIterable<MessageInitShape<I>>,
  contextValues: ContextValues | undefined,
): Promise<StreamResponse<I, O>> {
  const { serialize, parse } = createClientMethodSerializers(method, true);
  // As connect-web: a timeout of 0 or less means none.
  const timeout = timeoutMs !== undefined && timeoutMs > 0 ? timeoutMs : undefined;
  return runStreamingCall<I, O>({
    interceptors: options.interceptors,
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    ...(signal === undefined ? {} : { signal }),
    req: {
      stream: true,
      service: method.parent,
      method,
      requestMethod: "POST",
      url: createMethodUrl(options.baseUrl, method),
      header: requestHeader(method.methodKind, true, timeout, header, false),
      contextValues: contextValues ?? createContextValues(),
      message: input,
    },
    next: async (req) => {
      const frames: Uint8Array<ArrayBuffer>[] = [];
      for await (const message of req.message) {
        frames.push(encodeEnvelope(0, serialize(message)));
      }
      const response = await options.fetch(req.url, {
        method: req.requestMethod,
        headers: req.header,
        signal: req.signal,
        redirect: "error",
        body: new Blob(frames),
      });
      validateResponse(method.methodKind, true, response.status, response.headers);
      if (response.body === null) {
        throw new ConnectError("protocol error: missing response body", Code.Internal);
      }
      const trailer = new Headers();
      return {
        ...req,
        header: response.headers,
        trailer,
        message: responseMessages(response.body, trailer, response.headers, parse, req.signal),
      };
    },
  });
}

/** The response's enveloped messages, then its end-of-stream frame: an error there is thrown, its metadata kept as trailers. */
async function* responseMessages<T>(
  body: ReadableStream<Uint8Array>,
  trailer: Headers,
  header: Headers,
  parse: (data: Uint8Array) => T,
  signal: AbortSignal,
): AsyncGenerator<T> {
  const reader = createEnvelopeReadableStream(body).getReader();
  let ended = false;
  for (;;) {
    const result = await reader.read();
    if (result.done) {
      break;
    }
    const { flags, data } = result.value;
    if ((flags & compressedFlag) === compressedFlag) {
      throw new ConnectError("protocol error: received unsupported compressed output", Code.Internal);
    }
    if ((flags & endStreamFlag) === endStreamFlag) {
      ended = true;
      const endStream = endStreamFromJson(data);
      if (endStream.error !== undefined) {
        const error = endStream.error;
        header.forEach((value, key) => error.metadata.append(key, value));
        throw error;
      }
      endStream.metadata.forEach((value, key) => trailer.set(key, value));
      continue;
    }
    yield parse(data);
  }
  // A stream aborted before getReader() ends without an error in some fetch implementations.
  signal.throwIfAborted();
  if (!ended) {
    throw new ConnectError("protocol error: missing EndStreamResponse", Code.Internal);
  }
}
