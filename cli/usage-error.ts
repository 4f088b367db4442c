// A mistake on the command line (unknown flag, missing argument, bad value).
// A StowdError like every other failure, told apart so it exits 2, not 1.
import { StowdError } from "../common/errors.js";

export class UsageError extends StowdError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message, { field: "command line" });
  }
}
