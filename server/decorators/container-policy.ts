// Flyte's container policy: with `container` set and `enable-multicontainer`
// off, references on the primary scheme must name that container. Flyte
// reports a foreign container as not-found (so callers think the object is
// missing); stowd answers PERMISSION_DENIED and names the setting. The
// policy covers every scheme that reaches the primary store (abfs and its
// alias abfss alike), not just the spelling the config names.
import { StowdError } from "../../common/errors.js";
import { formatReference, type Ref } from "../references/reference.js";
import type { RawStore } from "../stores/raw-store.js";

export interface ContainerPolicyOptions {
  /** Whether a scheme reaches the primary store, under its own name or an alias. */
  appliesTo(scheme: string): boolean;
  /** Flyte's init container. */
  container: string;
  /** Flyte's `enable-multicontainer`. */
  enableMultiContainer: boolean;
  /** Called for each refused reference (the refusal metric). */
  onReject?: () => void;
}

/** Whether the policy refuses anything: a container is set and multi-container is off. */
export function containerPolicyIsOn(options: Pick<ContainerPolicyOptions, "container" | "enableMultiContainer">): boolean {
  return !options.enableMultiContainer && options.container !== "";
}

export function withContainerPolicy(inner: RawStore, options: ContainerPolicyOptions): RawStore {
  if (!containerPolicyIsOn(options)) return inner;
  const check = (ref: Ref): void => {
    if (ref.container === options.container || !options.appliesTo(ref.scheme)) return;
    const reference = formatReference(ref, ref.key);
    options.onReject?.();
    throw new StowdError(
      "CONTAINER_NOT_ALLOWED",
      `${reference} names container "${ref.container}", but this daemon serves only "${options.container}" on ${ref.scheme}://; set storage.enable-multicontainer: true to allow other containers`,
      { reference },
    );
  };
  return {
    ...inner,
    head: async (ref, signal) => {
      check(ref);
      return inner.head(ref, signal);
    },
    read: async (ref, o, signal) => {
      check(ref);
      return inner.read(ref, o, signal);
    },
    write: async (ref, body, o, signal) => {
      check(ref);
      return inner.write(ref, body, o, signal);
    },
    append: async (ref, body, o, signal) => {
      check(ref);
      return inner.append(ref, body, o, signal);
    },
    list: async (prefix, o, signal) => {
      check(prefix);
      return inner.list(prefix, o, signal);
    },
    delete: async (ref, o, signal) => {
      check(ref);
      return inner.delete(ref, o, signal);
    },
    deletePrefix: async (prefix, signal) => {
      check(prefix);
      return inner.deletePrefix(prefix, signal);
    },
    copy: async (source, destination, o, signal) => {
      check(source);
      check(destination);
      return inner.copy(source, destination, o, signal);
    },
    signUrl: async (ref, o, signal) => {
      check(ref);
      return inner.signUrl(ref, o, signal);
    },
  };
}
