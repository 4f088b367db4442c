// Admission and time bounds for every call, on both listeners:
//   - server.maxConcurrentCalls: calls in progress across the daemon; one
//     more is refused at once with RESOURCE_EXHAUSTED (queueing it would hold
//     its connection and request bytes while it waits; a client can retry
//     with backoff or go to another replica);
//   - server.defaultDeadline: the deadline of a call whose client set none;
//   - server.maxDeadline: caps a longer client deadline;
//   - server.idleStreamTimeout: a stream on which no message moved either way
//     for that long is cancelled (RESOURCE_EXHAUSTED naming the bound, or the
//     in-flight byte budget when the stream was waiting for it);
//   - stop() / cancelAll(): graceful shutdown refuses new calls with
//     UNAVAILABLE, then cancels the ones still running after the grace period.
// A bound fires by aborting the call's own context, so the service code,
// the store below it and the transport all see one reason, which becomes the
// call's status.
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { StowdError } from "../../common/errors.js";
import { toConnectError } from "./error-boundary.js";
import type { StreamBudget } from "./stream-budget.js";

/** The bounds as configured under `server:` (see load-config.ts); the listeners apply maxStreamsPerConnection and the connection timeouts. */
export interface CallBounds {
  /** server.maxConcurrentCalls: calls in progress across both listeners; 0 = unlimited. */
  maxConcurrentCalls: number;
  /** server.maxStreamsPerConnection: HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS on both listeners. */
  maxStreamsPerConnection: number;
  /** server.maxInFlightMBs in bytes: the in-flight byte budget; 0 = unlimited. */
  maxInFlightBytes: number;
  /** server.idleStreamTimeout; 0 = none. */
  idleStreamTimeoutMs: number;
  /** server.defaultDeadline; 0 = none. */
  defaultDeadlineMs: number;
  /** server.maxDeadline; 0 = no cap. */
  maxDeadlineMs: number;
  /** server.headersTimeout: a new connection must send a request's headers within this; 0 = none. */
  headersTimeoutMs: number;
  /** server.idleConnectionTimeout: a connection with no call in progress for this long is closed; 0 = never. */
  idleConnectionTimeoutMs: number;
}

export const DEFAULT_CALL_BOUNDS: Readonly<CallBounds> = {
  maxConcurrentCalls: 1000,
  maxStreamsPerConnection: 100,
  maxInFlightBytes: 64 * 1024 * 1024,
  idleStreamTimeoutMs: 60_000,
  defaultDeadlineMs: 3_600_000,
  maxDeadlineMs: 24 * 3_600_000,
  headersTimeoutMs: 10_000,
  idleConnectionTimeoutMs: 300_000,
};

/** The bounds among `source`'s fields (e.g. a whole ServerConfig), defaults for the rest. */
export function callBoundsOf(source: Partial<CallBounds> = {}): CallBounds {
  const pick = <K extends keyof CallBounds>(key: K): CallBounds[K] => source[key] ?? DEFAULT_CALL_BOUNDS[key];
  return {
    maxConcurrentCalls: pick("maxConcurrentCalls"),
    maxStreamsPerConnection: pick("maxStreamsPerConnection"),
    maxInFlightBytes: pick("maxInFlightBytes"),
    idleStreamTimeoutMs: pick("idleStreamTimeoutMs"),
    defaultDeadlineMs: pick("defaultDeadlineMs"),
    maxDeadlineMs: pick("maxDeadlineMs"),
    headersTimeoutMs: pick("headersTimeoutMs"),
    idleConnectionTimeoutMs: pick("idleConnectionTimeoutMs"),
  };
}

export interface CallLimitsOptions {
  /** Calls in progress at once; 0 = unlimited. */
  maxConcurrentCalls: number;
  /** 0 = no idle timeout. */
  idleStreamTimeoutMs: number;
  /** Deadline for calls that carry none; 0 = none. */
  defaultDeadlineMs: number;
  /** Cap on a client's deadline; 0 = no cap. */
  maxDeadlineMs: number;
  budget: StreamBudget;
}

export interface AdmittedCall {
  /** A message moved (either way): the idle timer starts over. */
  touch(): void;
  /** The request stream ended: what is left is the daemon's own work, bounded by the deadline, not the idle timer. */
  requestsEnded(): void;
  /** Marks the stream as waiting for the byte budget, so an idle timeout says so. */
  setWaitingForBudget(waiting: boolean): void;
  /** The call ended; frees its slot and timers. Idempotent. */
  finish(): void;
  /**
   * The status this call was ended with when a bound (or shutdown) aborted
   * it. It beats what the code below made of the abort (a store reports a
   * generic "cancelled" or "ran out of time").
   */
  readonly boundReason: ConnectError | undefined;
}

export interface CallLimits {
  readonly options: Readonly<CallLimitsOptions>;
  readonly budget: StreamBudget;
  /** Calls in progress. */
  readonly active: number;
  /** Admits a call or throws (LIMIT_EXCEEDED when full, UNAVAILABLE when stopping). */
  admit(ctx: HandlerContext, streaming: boolean): AdmittedCall;
  /** Refuses every new call from now on (the first step of a graceful stop). */
  stop(): void;
  /** Cancels every call still in progress with `reason` (the end of the grace period). */
  cancelAll(reason: ConnectError): void;
}

/** RetryInfo on a refusal for too many calls: calls are short, a slot frees up soon. */
const FULL_DAEMON_RETRY_MS = 250;
/** RetryInfo on a stream that waited too long for the byte budget: big transfers hold it for a while. */
const BUSY_BUDGET_RETRY_MS = 1000;

type Abortable = HandlerContext & { abort?: (reason?: unknown) => void };

export function createCallLimits(options: CallLimitsOptions): CallLimits {
  const { maxConcurrentCalls, idleStreamTimeoutMs, defaultDeadlineMs, maxDeadlineMs, budget } = options;
  const running = new Set<(reason: ConnectError) => void>();
  let stopped = false;

  function admit(ctx: Abortable, streaming: boolean): AdmittedCall {
    if (stopped) {
      throw new ConnectError(
        "the daemon is shutting down and accepts no new calls; retry on another replica or after it restarts",
        Code.Unavailable,
      );
    }
    if (maxConcurrentCalls > 0 && running.size >= maxConcurrentCalls) {
      throw new StowdError(
        "LIMIT_EXCEEDED",
        `too many calls in progress: the daemon serves at most ${maxConcurrentCalls} at once (server.maxConcurrentCalls = ${maxConcurrentCalls}); retry with backoff or raise server.maxConcurrentCalls`,
        { retryAfterMs: FULL_DAEMON_RETRY_MS },
      );
    }
    let boundReason: ConnectError | undefined;
    const abort = (reason: ConnectError) => {
      if (ctx.signal.aborted) return;
      boundReason = reason;
      ctx.abort?.(reason);
    };
    running.add(abort);
    const timers: NodeJS.Timeout[] = [];
    let idleTimer: NodeJS.Timeout | undefined;

    // Deadlines: the transport enforces a client deadline within the cap; we
    // add the default and the cap.
    const clientMs = ctx.timeoutMs();
    if (clientMs === undefined && defaultDeadlineMs > 0) {
      timers.push(
        setTimeout(
          () =>
            abort(
              deadlineError(
                `the call did not finish within the default deadline of ${formatMs(defaultDeadlineMs)} (server.defaultDeadline = ${formatMs(defaultDeadlineMs)}), which applies when a client sets no deadline; set one on the call or raise server.defaultDeadline`,
              ),
            ),
          defaultDeadlineMs,
        ),
      );
    } else if (clientMs !== undefined && maxDeadlineMs > 0 && clientMs > maxDeadlineMs) {
      timers.push(
        setTimeout(
          () =>
            abort(
              deadlineError(
                `the call did not finish within ${formatMs(maxDeadlineMs)}: the client's deadline of ${formatMs(clientMs)} is capped at server.maxDeadline = ${formatMs(maxDeadlineMs)}`,
              ),
            ),
          maxDeadlineMs,
        ),
      );
    }

    let last = Date.now();
    let idleStopped = !streaming || idleStreamTimeoutMs <= 0;
    let waitingForBudget = false;
    const checkIdle = () => {
      if (idleStopped) return;
      const idleFor = Date.now() - last;
      if (idleFor < idleStreamTimeoutMs) {
        idleTimer = setTimeout(checkIdle, idleStreamTimeoutMs - idleFor);
        return;
      }
      const bound = `server.idleStreamTimeout = ${formatMs(idleStreamTimeoutMs)}`;
      const message = waitingForBudget
        ? `the stream waited ${formatMs(idleFor)} for the in-flight byte budget (server.maxInFlightMBs = ${budget.limitBytes / 2 ** 20}; ${bound}): the daemon is moving as many bytes as it is allowed to; retry later or raise server.maxInFlightMBs`
        : `the stream was idle for ${formatMs(idleFor)}: no message moved in either direction (${bound}); keep sending or reading, or raise server.idleStreamTimeout`;
      abort(
        toConnectError(
          new StowdError(
            "LIMIT_EXCEEDED",
            message,
            waitingForBudget ? { limit: budget.limitBytes, retryAfterMs: BUSY_BUDGET_RETRY_MS } : {},
          ),
        ),
      );
    };
    if (!idleStopped) idleTimer = setTimeout(checkIdle, idleStreamTimeoutMs);

    let finished = false;
    return {
      get boundReason() {
        return boundReason;
      },
      touch() {
        last = Date.now();
      },
      requestsEnded() {
        idleStopped = true;
      },
      setWaitingForBudget(waiting) {
        waitingForBudget = waiting;
        if (!waiting) last = Date.now();
      },
      finish() {
        if (finished) return;
        finished = true;
        idleStopped = true;
        for (const t of timers) clearTimeout(t);
        clearTimeout(idleTimer);
        running.delete(abort);
      },
    };
  }

  return {
    options,
    budget,
    get active() {
      return running.size;
    },
    admit,
    stop() {
      stopped = true;
    },
    cancelAll(reason) {
      // Through the error boundary, so the HTTP port sends the standard details too (ErrorInfo, RetryInfo).
      const converted = toConnectError(reason);
      for (const abort of [...running]) abort(converted);
    },
  };
}

function deadlineError(message: string): ConnectError {
  return toConnectError(new StowdError("DEADLINE_EXCEEDED", message, {}));
}

/** 90000 → "1m30s", 1500 → "1.5s", 250 → "250ms": the config's own duration syntax. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 100) / 10; // seconds, 0.1 s precision
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest = Math.round((rest - m * 60) * 10) / 10;
  return `${h > 0 ? `${h}h` : ""}${m > 0 ? `${m}m` : ""}${rest > 0 || (h === 0 && m === 0) ? `${rest}s` : ""}`;
}
