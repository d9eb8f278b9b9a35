/**
 * Package URLs as the Go scanners read them: a small parser with the semantics of
 * package-url/packageurl-go's FromString (which go-vex, Grype and Trivy all call), and the
 * comparison go-vex's PurlMatches and Trivy's purl.Match apply. Written from reading those
 * functions, not copied: the VEX side is the general pattern, the scanner's purl the specific one.
 */

/** A parsed purl; qualifier keys lowercased, every part percent-decoded. */
export interface ParsedPurl {
  readonly type: string;
  readonly namespace: string;
  readonly name: string;
  readonly version: string;
  readonly qualifiers: ReadonlyMap<string, string>;
  readonly subpath: string;
}

/** Types whose namespace and name packageurl-go lowercases. */
const LOWERCASE_TYPES = new Set(["alpm", "apk", "bitbucket", "composer", "deb", "github", "gitlab", "golang", "hex", "npm", "pypi"]);

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** Parsed purls by text: a document repeats each purl in many places (~1 s of parsing for issue 9's bench). */
const parsed = new Map<string, ParsedPurl | undefined>();

/** Entries kept at most; past this the memo starts again (a bound on memory, not on correctness). */
const PARSED_MAX = 200_000;

/**
 * Parses a purl, or returns undefined where packageurl-go would return an error (no `pkg:`
 * scheme, no type or name, a bad escape, a qualifier without `=`). Memoised: the same text
 * gives the same (frozen) object, so callers must not change it.
 */
export function parsePurl(text: string): ParsedPurl | undefined {
  const known = parsed.get(text);
  if (known !== undefined || parsed.has(text)) return known;
  const result = parseUncached(text);
  if (parsed.size >= PARSED_MAX) parsed.clear();
  parsed.set(text, result === undefined ? undefined : Object.freeze(result));
  return result;
}

function parseUncached(text: string): ParsedPurl | undefined {
  if (!text.startsWith("pkg:")) return undefined;
  let rest = text.slice(4).replace(/^\/+/, "");
  let subpath = "";
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    subpath = rest.slice(hash + 1).replace(/^\/+|\/+$/g, "");
    rest = rest.slice(0, hash);
  }
  const qualifiers = new Map<string, string>();
  const q = rest.indexOf("?");
  if (q >= 0) {
    for (const pair of rest.slice(q + 1).split("&")) {
      if (pair === "") continue;
      const eq = pair.indexOf("=");
      if (eq <= 0) return undefined;
      const value = decode(pair.slice(eq + 1));
      if (value === undefined) return undefined;
      // packageurl-go drops qualifiers whose value is empty.
      if (value !== "") qualifiers.set(pair.slice(0, eq).toLowerCase(), value);
    }
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf("/");
  if (slash <= 0) return undefined;
  const type = rest.slice(0, slash).toLowerCase();
  let path = rest.slice(slash + 1).replace(/\/+$/, "");
  let version = "";
  const at = path.lastIndexOf("@");
  if (at >= 0 && at > path.lastIndexOf("/")) {
    const v = decode(path.slice(at + 1));
    if (v === undefined) return undefined;
    version = v;
    path = path.slice(0, at);
  }
  const segments = path
    .split("/")
    .filter((s) => s !== "")
    .map(decode);
  if (segments.some((s) => s === undefined)) return undefined;
  const parts = segments as string[];
  let name = parts.pop() ?? "";
  let namespace = parts.join("/");
  if (name === "") return undefined;
  if (LOWERCASE_TYPES.has(type)) {
    name = name.toLowerCase();
    namespace = namespace.toLowerCase();
  }
  if (type === "pypi") name = name.replace(/_/g, "-");
  return { type, namespace, name, version, qualifiers, subpath };
}

/**
 * go-vex's PurlMatches(pattern, specific): same type, namespace and name; a pattern without a
 * version matches any version, but a versioned pattern never matches a versionless purl; every
 * qualifier of the pattern must be in the specific purl with the same value (the specific one may
 * have more). Subpaths are not compared. An unparsable purl matches nothing.
 */
export function purlMatches(pattern: string, specific: string): boolean {
  const p1 = parsePurl(pattern);
  const p2 = parsePurl(specific);
  if (p1 === undefined || p2 === undefined) return false;
  if (p1.type !== p2.type || p1.namespace !== p2.namespace || p1.name !== p2.name) return false;
  if (p1.version !== "" && p2.version === "") return false;
  if (p1.version !== "" && p1.version !== p2.version) return false;
  for (const [key, value] of p1.qualifiers) if (p2.qualifiers.get(key) !== value) return false;
  return true;
}

function encodeSegment(s: string): string {
  return encodeURIComponent(s);
}

/**
 * Writes a purl the way the purl spec's examples do: name, namespace segments and version
 * percent-encoded (so `sha256:` becomes `sha256%3A`), qualifiers sorted by key with '/' and ':'
 * left readable in their values.
 */
export function formatPurl(p: { type: string; namespace?: string; name: string; version?: string; qualifiers?: Readonly<Record<string, string>> }): string {
  const ns = (p.namespace ?? "") === "" ? "" : `${(p.namespace ?? "").split("/").map(encodeSegment).join("/")}/`;
  const version = (p.version ?? "") === "" ? "" : `@${encodeSegment(p.version ?? "")}`;
  const entries = Object.entries(p.qualifiers ?? {})
    .filter(([, v]) => v !== "")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const query = entries.map(([k, v]) => `${k}=${encodeURIComponent(v).replace(/%2F/g, "/").replace(/%3A/g, ":")}`).join("&");
  return `pkg:${p.type}/${ns}${encodeSegment(p.name)}${version}${query === "" ? "" : `?${query}`}`;
}
