/**
 * Path resolution inside the image root, from the catalogue's symlink table alone (no disk):
 * merged /usr (/lib -> usr/lib), soname links (libfoo.so.1 -> libfoo.so.1.2.3), alternatives.
 * Both the profile's paths and the packages' listed paths go through it before matching.
 */

// The kernel's own limit on symlinks followed in one lookup.
const MAX_LINK_HOPS = 40;
const SLASH = 0x2f;
// What normaliseAbsolute changes: "//", a "." segment, a trailing "/" after a name.
const NEEDS_NORMALISING = /\/\/|\/\.(?:\/|$)|.\/$/;

/**
 * Lexically normalises an absolute path: collapses repeated slashes and "." segments and drops
 * a trailing slash; ".." is kept (only the resolver may apply it, after following links).
 * Returns "" for a relative path.
 */
export function normaliseAbsolute(path: string): string {
  if (path.charCodeAt(0) !== SLASH) return "";
  // Most paths (every catalogue path, most traced ones) are normal already: no copy.
  if (!NEEDS_NORMALISING.test(path)) return path;
  const parts = path.split("/").filter((part) => part !== "" && part !== ".");
  return `/${parts.join("/")}`;
}

/** Resolves paths against an image's symlink table, caching the answers. */
export class ImagePathResolver {
  private readonly links: ReadonlyMap<string, string>;
  // Every directory above a link ("/usr" and "/usr/bin" for "/usr/bin/sh"): below any other
  // directory there is no link to follow.
  private readonly aboveLinks = new Set<string>();
  // Answers of walks (paths with a link or ".." on the way); the others need no walk.
  private readonly cache = new Map<string, string | undefined>();

  /** @param symlinks absolute path inside the image -> raw link target (ImageCatalogue.symlinks). */
  constructor(symlinks: Readonly<Record<string, string>>) {
    const links = new Map<string, string>();
    for (const [path, target] of Object.entries(symlinks)) {
      const key = normaliseAbsolute(path);
      if (key !== "" && key !== "/") links.set(key, target);
    }
    this.links = links;
    for (const key of links.keys()) {
      for (let cut = key.indexOf("/", 1); cut !== -1; cut = key.indexOf("/", cut + 1)) this.aboveLinks.add(key.slice(0, cut));
    }
  }

  /**
   * The path with every symlink in it followed inside the image root (absolute targets are
   * relative to the image root; ".." never climbs above it). Returns undefined for a relative
   * path or a link loop.
   */
  resolve(path: string): string | undefined {
    const start = normaliseAbsolute(path);
    if (start === "") return undefined;
    return this.resolveNormal(start);
  }

  /** resolve() of a path normaliseAbsolute has already normalised (not ""). */
  resolveNormal(start: string): string | undefined {
    if (this.noLinkOnTheWay(start)) return start;
    const cached = this.cache.get(start);
    if (cached !== undefined || this.cache.has(start)) return cached;
    const resolved = this.walk(start);
    this.cache.set(start, resolved);
    return resolved;
  }

  /** Whether path (as given) is itself a symlink in the image. */
  isLink(path: string): boolean {
    return this.links.has(normaliseAbsolute(path));
  }

  /** isLink() of a normalised path. */
  isLinkNormal(path: string): boolean {
    return this.links.has(path);
  }

  /**
   * Whether no prefix of a normalised path (nor the path) is a link and it has no ".." segment:
   * then walking it would follow nothing and give it back unchanged.
   */
  private noLinkOnTheWay(path: string): boolean {
    if (path.endsWith("/..") || path.includes("/../")) return false;
    if (this.links.size === 0) return true;
    for (let cut = path.indexOf("/", 1); cut !== -1; cut = path.indexOf("/", cut + 1)) {
      const dir = path.slice(0, cut);
      if (this.links.has(dir)) return false;
      if (!this.aboveLinks.has(dir)) return true;
    }
    return !this.links.has(path);
  }

  private walk(start: string): string | undefined {
    let pending = start.split("/").filter((part) => part !== "");
    let done: string[] = [];
    let hops = 0;
    while (pending.length > 0) {
      const [part, ...rest] = pending;
      pending = rest;
      if (part === undefined || part === "" || part === ".") continue;
      if (part === "..") {
        done.pop();
        continue;
      }
      const candidate = `/${[...done, part].join("/")}`;
      const target = this.links.get(candidate);
      if (target === undefined) {
        done.push(part);
        continue;
      }
      hops += 1;
      if (hops > MAX_LINK_HOPS) return undefined;
      if (target.startsWith("/")) done = [];
      pending = [...target.split("/").filter((p) => p !== ""), ...pending];
    }
    return `/${done.join("/")}`;
  }
}
