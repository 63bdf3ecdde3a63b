/**
 * Debian's Chromium for the browser tests: where it is, the flags it runs with
 * here (headless, no sandbox, nothing reaching out to the network), and whether
 * it is installed.
 *
 * @module
 */

/** Where Debian's package puts it (`apt-get install -y chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** The flags every test launches it with. */
export const LAUNCH_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Whether Chromium is installed. */
export function haveChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}
