/**
 * Reading a JSON configuration with errors that help: every error names the
 * file, the JSON path of the value (`realms[0].roles[1].permissions[0].match`)
 * and what was expected there, so the fix is obvious.
 *
 * @module
 */

/** A configuration file that cannot be used; the server does not start. */
export class ConfigError extends Error {
  /** The error name: `ConfigError`. */
  override name = "ConfigError";

  /**
   * An error at `path` in `file`.
   * @param file the configuration file, as given
   * @param path the JSON path of the offending value (`(top level)` for the document)
   * @param problem what is wrong and what is expected instead
   */
  constructor(readonly file: string, readonly path: string, readonly problem: string) {
    super(`${file}: ${path}: ${problem}`);
  }
}

/** Reads environment variables (for `{ "env": "NAME" }` secrets). */
export type EnvReader = (name: string) => string | undefined;

/** One value of the document, with where it is. */
export class ConfigNode {
  /**
   * A value at `path` in `file`.
   * @param file the configuration file, for errors
   * @param path the value's JSON path
   * @param value the value (undefined when the key is absent)
   * @param env reads the environment, for secrets
   */
  constructor(
    readonly file: string,
    readonly path: string,
    readonly value: unknown,
    readonly env: EnvReader,
  ) {}

  /** Fails at this value. */
  fail(problem: string): never {
    throw new ConfigError(this.file, this.path || "(top level)", problem);
  }

  /** Whether the key was absent. */
  get absent(): boolean {
    return this.value === undefined;
  }

  /** The child at `key` of an object (absent keys give an absent node). */
  key(key: string): ConfigNode {
    const value = isObject(this.value) ? this.value[key] : undefined;
    const segment = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
    return new ConfigNode(
      this.file,
      this.path === "" ? segment.replace(/^\./, "") : this.path + segment,
      value,
      this.env,
    );
  }

  /**
   * Checks this is an object holding only `known` keys.
   * @param what what the object describes, for the error ("a permission")
   */
  object(known: readonly string[], what: string): this {
    if (!isObject(this.value)) this.fail(`expected ${what} (a JSON object), got ${describe(this.value)}`);
    for (const k of Object.keys(this.value)) {
      if (!known.includes(k)) {
        this.key(k).fail(
          `unknown key in ${what}; the keys here are ${known.map((x) => `"${x}"`).join(", ")}`,
        );
      }
    }
    return this;
  }

  /** The entries of an object used as a map (principals by authid). */
  entries(what: string): [string, ConfigNode][] {
    if (!isObject(this.value)) this.fail(`expected ${what} (a JSON object), got ${describe(this.value)}`);
    return Object.keys(this.value).map((k) => [k, this.key(k)]);
  }

  /** The items of an array. */
  items(what: string): ConfigNode[] {
    if (!Array.isArray(this.value)) this.fail(`expected ${what} (a JSON array), got ${describe(this.value)}`);
    return this.value.map((v, i) => new ConfigNode(this.file, `${this.path}[${i}]`, v, this.env));
  }

  /** A string; `fallback` when absent. */
  string(fallback?: string): string {
    if (this.value === undefined && fallback !== undefined) return fallback;
    if (typeof this.value !== "string") this.fail(`expected a string, got ${describe(this.value)}`);
    return this.value;
  }

  /** A non-empty string; `fallback` when absent. */
  name(fallback?: string): string {
    const s = this.string(fallback);
    if (s.trim() === "") this.fail("expected a non-empty string");
    return s;
  }

  /** A boolean; `fallback` when absent. */
  boolean(fallback: boolean): boolean {
    if (this.value === undefined) return fallback;
    if (typeof this.value !== "boolean") this.fail(`expected true or false, got ${describe(this.value)}`);
    return this.value;
  }

  /** A whole number in `min..max`; `fallback` when absent. */
  integer(min: number, max: number, fallback?: number): number {
    if (this.value === undefined && fallback !== undefined) return fallback;
    const n = this.value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
      this.fail(`expected a whole number from ${min} to ${max}, got ${describe(n)}`);
    }
    return n;
  }

  /** One of `choices`; `fallback` when absent. */
  oneOf<T extends string>(choices: readonly T[], fallback?: T): T {
    if (this.value === undefined && fallback !== undefined) return fallback;
    if (typeof this.value !== "string" || !choices.includes(this.value as T)) {
      this.fail(`expected one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describe(this.value)}`);
    }
    return this.value as T;
  }

  /**
   * A secret: a string, or `{ "env": "NAME" }` to read it from the environment
   * variable NAME (which must be set and not empty).
   */
  secret(): string {
    if (typeof this.value === "string") {
      if (this.value === "") this.fail("expected a non-empty secret");
      return this.value;
    }
    if (isObject(this.value)) {
      this.object(["env"], 'a secret from the environment ({ "env": "NAME" })');
      const name = this.key("env").name();
      const value = this.env(name);
      if (value === undefined || value === "") {
        this.fail(`the environment variable ${name} is not set (or empty); set it, or write the secret here`);
      }
      return value;
    }
    this.fail(`expected a secret: a string, or { "env": "NAME" }, got ${describe(this.value)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short description of a JSON value for error messages (never its content when it may be secret). */
function describe(value: unknown): string {
  if (value === undefined) return "nothing (the key is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") {
    return `the string ${JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value)}`;
  }
  return `${typeof value} ${JSON.stringify(value)}`;
}
