// The connect HandlerContext of one grpc-js call, the context the call
// pipeline and the services get on the gRPC port. connect's own
// createHandlerContext made, for every call, an AbortController linked to the
// shutdown signal, three Headers objects filled from the metadata, and, when
// the call ended, an AbortError (a DOMException with its stack trace) to fire
// the signal: together about a seventh of a Head call's CPU in a profile.
// Here each is made only when something asks for it: the headers on first
// read, and when the call ends its signal fires with one shared reason.
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import type * as grpc from "@grpc/grpc-js";

/** The reason a call's signal gives once the call has ended (connect's contexts fire theirs too: downstream work stops). */
const CALL_ENDED = new ConnectError("the call has ended", Code.Canceled);
/** connect's reason when a call's deadline passes. */
const DEADLINE_PASSED = "the operation timed out";

/**
 * The calls of one service still running. The shutdown signal reaches them
 * all through this one listener: a listener per call made every call's end
 * walk the signal's list of listeners to remove its own.
 */
export class OpenCalls {
  private readonly calls = new Set<GrpcCallContext>();

  constructor(readonly shutdownSignal: AbortSignal) {
    shutdownSignal.addEventListener("abort", () => {
      for (const call of this.calls) call.abort(shutdownSignal.reason);
    });
  }

  add(call: GrpcCallContext): void {
    this.calls.add(call);
  }

  delete(call: GrpcCallContext): void {
    this.calls.delete(call);
  }
}

export class GrpcCallContext implements HandlerContext {
  readonly protocolName = "grpc";
  readonly requestMethod = "POST";
  private readonly controller = new AbortController();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private requestHeaders: Headers | undefined;
  private responseHeaders: Headers | undefined;
  private responseTrailers: Headers | undefined;
  private isOver = false;

  constructor(
    readonly service: DescService,
    readonly method: DescMethod,
    readonly url: string,
    private readonly metadata: grpc.Metadata,
    readonly values: ContextValues,
    private readonly openCalls: OpenCalls,
    /** When the client's deadline passes (ms since the epoch), or undefined for none. */
    private readonly deadlineAt: number | undefined,
  ) {
    const { shutdownSignal } = openCalls;
    if (shutdownSignal.aborted) this.controller.abort(shutdownSignal.reason);
    else openCalls.add(this);
    if (deadlineAt !== undefined) {
      this.deadlineTimer = setTimeout(
        () => this.abort(new ConnectError(DEADLINE_PASSED, Code.DeadlineExceeded)),
        Math.max(0, deadlineAt - Date.now()),
      );
    }
  }

  /** Whether end() ran. */
  get ended(): boolean {
    return this.isOver;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  readonly timeoutMs = (): number | undefined => (this.deadlineAt === undefined ? undefined : Math.max(0, this.deadlineAt - Date.now()));

  get requestHeader(): Headers {
    if (this.requestHeaders === undefined) {
      this.requestHeaders = new Headers();
      for (const [key, value] of Object.entries(this.metadata.getMap())) {
        if (typeof value === "string") this.requestHeaders.set(key, value);
      }
    }
    return this.requestHeaders;
  }

  /** Headers a handler sets; the gRPC port does not send them (the HTTP port does). */
  get responseHeader(): Headers {
    return (this.responseHeaders ??= new Headers());
  }

  get responseTrailer(): Headers {
    return (this.responseTrailers ??= new Headers());
  }

  /** One request header, without building the Headers object. */
  header(name: string): string | null {
    const value = this.metadata.get(name)[0];
    return typeof value === "string" ? value : null;
  }

  /** Fires the call's signal with `reason` (cancel, deadline, shutdown, a limit). */
  abort(reason: unknown): void {
    if (this.controller.signal.aborted) return;
    this.controller.abort(reason);
  }

  /** The call is over: stops its timer, leaves the shutdown signal, and fires its own signal for work still running. */
  end(): void {
    if (this.isOver) return;
    this.isOver = true;
    clearTimeout(this.deadlineTimer);
    this.openCalls.delete(this);
    this.abort(CALL_ENDED);
  }
}
