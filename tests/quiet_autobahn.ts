/**
 * autobahn-browser binds console.warn when it loads and warns on every connection
 * close, which the tests do hundreds of times on purpose. Imported before autobahn,
 * this drops just those two lines; every other warning still shows.
 *
 * @module
 */

const AUTOBAHN_CLOSE_NOISE = new Set(["connection closed", "auto-reconnect disabled!"]);
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  if (typeof args[0] === "string" && AUTOBAHN_CLOSE_NOISE.has(args[0])) return;
  warn(...args);
};
