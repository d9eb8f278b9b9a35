/**
 * Typed readers of environment variables and the one way a service turns them into its frozen
 * configuration. Each reader validates its variable and fails with a ConfigError that names the
 * variable and the value it refused; inside loadConfig every bad variable is collected so one
 * start-up failure lists them all.
 *
 * An empty variable counts as unset (so `PORT=` falls back to the default), because shells and
 * manifests commonly produce empty values for "not configured".
 */

/** One refused variable. */
export interface ConfigProblem {
  /** The environment variable's name. */
  readonly variable: string;
  /** The value it held, or undefined when it was unset. */
  readonly value: string | undefined;
  /** A sentence naming the variable, the bad value and what was expected. */
  readonly message: string;
}

/** One or more environment variables are missing or malformed; `problems` lists each. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const text =
      problems.length === 1 ? (problems[0]?.message ?? "invalid configuration") : `invalid configuration: ${problems.map((p) => p.message).join("; ")}`;
    super(text, options);
    this.name = "ConfigError";
    this.problems = Object.freeze([...problems]);
  }

  /** The first refused variable's name. */
  get variable(): string {
    return this.problems[0]?.variable ?? "";
  }
}

/** Where variables are read from: process.env unless loadConfig was given another source. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

interface Collector {
  readonly source: EnvSource;
  readonly problems: ConfigProblem[];
}

// loadConfig may be nested (a library's config read inside a service's); innermost wins.
const collectors: Collector[] = [];

function currentSource(): EnvSource {
  return collectors.at(-1)?.source ?? process.env;
}

function raw(name: string): string | undefined {
  const value = currentSource()[name];
  return value === undefined || value === "" ? undefined : value;
}

function describe(value: string | undefined): string {
  if (value === undefined) return "unset";
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
  return JSON.stringify(shown);
}

/**
 * Records (inside loadConfig) or throws (outside) a problem; returns the placeholder the reader
 * hands back so the rest of the loadConfig callback can run and report further problems.
 */
function refuse<T>(variable: string, value: string | undefined, expected: string, placeholder: T): T {
  const message = value === undefined ? `${variable} is required but unset (${expected})` : `${variable}=${describe(value)} is invalid: ${expected}`;
  const problem: ConfigProblem = { variable, value, message };
  const collector = collectors.at(-1);
  if (collector === undefined) throw new ConfigError([problem]);
  collector.problems.push(problem);
  return placeholder;
}

export interface StringOptions {
  /** Used when the variable is unset or empty; without it the variable is required. */
  readonly default?: string;
}

export interface IntOptions {
  readonly default?: number;
  /** Smallest accepted value (inclusive). */
  readonly min?: number;
  /** Largest accepted value (inclusive). */
  readonly max?: number;
}

export interface PortOptions {
  readonly default?: number;
}

export interface BoolOptions {
  readonly default?: boolean;
}

export interface UrlOptions {
  readonly default?: string;
  /** Accepted schemes without the colon, e.g. ["http", "https"]; any when omitted. */
  readonly protocols?: readonly string[];
}

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

/** A string variable. @throws ConfigError (outside loadConfig) when unset and no default is given. */
function readString(name: string, options: StringOptions = {}): string {
  const value = raw(name);
  if (value !== undefined) return value;
  if (options.default !== undefined) return options.default;
  return refuse(name, undefined, "set it to a non-empty string", "");
}

/** A string variable that may be unset. Never throws. */
function readOptionalString(name: string): string | undefined {
  return raw(name);
}

/** A decimal integer within [min, max]. @throws ConfigError (outside loadConfig) when malformed, out of range, or unset without default. */
function readInt(name: string, options: IntOptions = {}): number {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  const expected = `expected an integer from ${min} to ${max}`;
  const value = raw(name);
  if (value === undefined) {
    if (options.default !== undefined) return options.default;
    return refuse(name, undefined, expected, min);
  }
  const trimmed = value.trim();
  if (!/^[+-]?\d+$/.test(trimmed)) return refuse(name, value, expected, options.default ?? min);
  const parsed = Number(trimmed);
  if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) return refuse(name, value, expected, options.default ?? min);
  return parsed;
}

/** A TCP port, 0..65535 (0 asks the kernel for a free one). @throws ConfigError (outside loadConfig) when invalid. */
function readPort(name: string, options: PortOptions = {}): number {
  const value = raw(name);
  const expected = "expected a TCP port from 0 to 65535";
  if (value === undefined) {
    if (options.default !== undefined) return options.default;
    return refuse(name, undefined, expected, 0);
  }
  const trimmed = value.trim();
  const parsed = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isInteger(parsed) || parsed > 65535) return refuse(name, value, expected, options.default ?? 0);
  return parsed;
}

/** A boolean: true/false, 1/0, yes/no, on/off (any case). @throws ConfigError (outside loadConfig) when invalid. */
function readBool(name: string, options: BoolOptions = {}): boolean {
  const value = raw(name);
  const expected = "expected one of true, false, 1, 0, yes, no, on, off";
  if (value === undefined) {
    if (options.default !== undefined) return options.default;
    return refuse(name, undefined, expected, false);
  }
  const lower = value.trim().toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  return refuse(name, value, expected, options.default ?? false);
}

/** An absolute URL, returned as written. @throws ConfigError (outside loadConfig) when not a URL or of a scheme not allowed. */
function readUrl(name: string, options: UrlOptions = {}): string {
  const schemes = options.protocols;
  const expected = schemes === undefined ? "expected an absolute URL" : `expected an absolute URL with scheme ${schemes.join(", ")}`;
  const value = raw(name);
  if (value === undefined) {
    if (options.default !== undefined) return options.default;
    return refuse(name, undefined, expected, "");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return refuse(name, value, expected, options.default ?? "");
  }
  if (schemes !== undefined && !schemes.includes(url.protocol.replace(/:$/, ""))) return refuse(name, value, expected, options.default ?? "");
  return value;
}

/**
 * One of a fixed set of strings (compared exactly). Without a default the variable is required.
 * @throws ConfigError (outside loadConfig) when the value is not one of `values`.
 */
function readOneOf<const T extends string>(name: string, values: readonly T[], defaultValue?: T): T {
  const expected = `expected one of ${values.join(", ")}`;
  const value = raw(name);
  const fallback = defaultValue ?? values[0];
  if (fallback === undefined) throw new TypeError(`env.oneOf(${name}) needs at least one value`);
  if (value === undefined) {
    if (defaultValue !== undefined) return defaultValue;
    return refuse(name, undefined, expected, fallback);
  }
  const match = values.find((v) => v === value);
  if (match === undefined) return refuse(name, value, expected, fallback);
  return match;
}

/**
 * Reports a variable its reader checked itself (one of two variables required, a secret too
 * short): collected inside loadConfig like the readers' own problems, thrown outside it.
 * @throws ConfigError outside loadConfig.
 */
function refuseVariable(name: string, value: string | undefined, expected: string): void {
  refuse(name, value, expected, undefined);
}

/**
 * The environment readers. Use them inside loadConfig (which collects every bad variable);
 * used alone, each throws ConfigError at the first bad variable.
 */
export const env = Object.freeze({
  string: readString,
  optionalString: readOptionalString,
  int: readInt,
  port: readPort,
  bool: readBool,
  url: readUrl,
  oneOf: readOneOf,
  refuse: refuseVariable,
});

type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepReadonly<E>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * Runs `build` (which calls the env readers), collecting every refused variable, and returns
 * its result deeply frozen. `source` replaces process.env (tests).
 * @throws ConfigError listing every missing or malformed variable, each by name and value.
 */
export function loadConfig<T>(build: () => T, source: EnvSource = process.env): DeepReadonly<T> {
  const collector: Collector = { source, problems: [] };
  collectors.push(collector);
  let result: T;
  try {
    result = build();
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError([...collector.problems, ...err.problems], { cause: err });
    // A derived value may fail because an earlier reader returned a placeholder: report the variables.
    if (collector.problems.length > 0) throw new ConfigError(collector.problems, { cause: err });
    throw err;
  } finally {
    collectors.pop();
  }
  if (collector.problems.length > 0) throw new ConfigError(collector.problems);
  return deepFreeze(result) as DeepReadonly<T>;
}
