// Debian's chromium, headless, driven by playwright-core (its own browser
// downloads cannot work offline). A missing chromium fails the test with the
// command that installs it, rather than skipping it.
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { chromium, type Browser } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(
      `${CHROMIUM} is not installed (needed by the browser tests); run \`bash scripts/install-test-servers.sh\` to install it (Debian package chromium)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM });
}
