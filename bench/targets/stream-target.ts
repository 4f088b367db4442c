// One way to move an object's bytes: a client library talking to a server.
// The stream scenario times write() and read() and measures serverPid.
export interface StreamTarget {
  /** Column name in the tables, e.g. "stowd mem:// SDK". */
  label: string;
  /** The server process whose CPU and RSS the results report (the daemon or the ceiling); none for a backend called directly. */
  serverPid: number | undefined;
  /** Stores `payload` as the object `name` (already removed by reset()). */
  write(name: string, payload: Buffer): Promise<void>;
  /** Reads the object `name`; checks every byte against `verify` when given. Returns the byte count. */
  read(name: string, size: number, verify?: Buffer): Promise<number>;
  /** Removes the object `name` (untimed), so each write creates a new object and memory is given back. */
  reset(name: string): Promise<void>;
  close(): void;
}
