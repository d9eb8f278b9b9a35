/**
 * Identity of a package for matching a scan row to the catalogue: canonical ecosystem, name,
 * version and architecture, read from the scan's fields and its purl (normalised with
 * packageurl-js, because a scan's purl may lack the namespace or qualifiers the catalogue has).
 */
import { PackageURL } from "packageurl-js";
import type { CataloguedPackage } from "@vexxy/proto";
import type { ScanPackage } from "@vexxy/scan-report";
import { canonicalEcosystem, canonicalPackageName } from "./ecosystem.js";

/** What matching compares. */
export interface PackageIdentity {
  readonly ecosystem: string;
  readonly name: string;
  readonly version: string;
  /** "" when unknown. */
  readonly arch: string;
}

/** Parses a purl, or returns undefined when it is empty or malformed (the scan's fields then decide). */
export function parsePurl(purl: string): PackageURL | undefined {
  if (purl.trim() === "") return undefined;
  try {
    return PackageURL.fromString(purl.trim());
  } catch {
    return undefined;
  }
}

/** The full name a purl gives (npm scopes and Go paths keep their namespace; distro namespaces do not). */
function nameFromPurl(purl: PackageURL): string {
  const namespaced = purl.type === "npm" || purl.type === "golang" || purl.type === "composer";
  return namespaced && purl.namespace ? `${purl.namespace}/${purl.name}` : purl.name;
}

/**
 * The identity of a package as the scan named it: its own fields first, the purl fills gaps.
 * The purl is parsed when a field is missing, or when `arch` (which only the purl gives) is
 * first read: matching reads it only when several installed packages share the name and version.
 */
export function scanPackageIdentity(pkg: ScanPackage): PackageIdentity {
  const complete = pkg.type !== "" && pkg.name !== "" && pkg.version !== "";
  let purl: PackageURL | undefined;
  let parsed = false;
  const purlOf = (): PackageURL | undefined => {
    if (!parsed) {
      purl = parsePurl(pkg.purl);
      parsed = true;
    }
    return purl;
  };
  const ecosystem = canonicalEcosystem(pkg.type !== "" ? pkg.type : (purlOf()?.type ?? ""));
  const fromPurl = pkg.name !== "" ? undefined : purlOf();
  const name = canonicalPackageName(ecosystem, pkg.name !== "" ? pkg.name : fromPurl ? nameFromPurl(fromPurl) : "");
  const version = pkg.version !== "" ? pkg.version : (purlOf()?.version ?? "");
  if (!complete) return { ecosystem, name, version, arch: purlOf()?.qualifiers?.["arch"] ?? "" };
  return {
    ecosystem,
    name,
    version,
    get arch(): string {
      return purlOf()?.qualifiers?.["arch"] ?? "";
    },
  };
}

/** The identity of a catalogued package (its purl is parsed only when a field is missing). */
export function cataloguedPackageIdentity(pkg: CataloguedPackage): PackageIdentity {
  const complete = pkg.type !== "" && pkg.name !== "" && pkg.version !== "" && pkg.architecture !== "";
  const purl = complete ? undefined : parsePurl(pkg.purl);
  const ecosystem = canonicalEcosystem(pkg.type !== "" ? pkg.type : (purl?.type ?? ""));
  return {
    ecosystem,
    name: canonicalPackageName(ecosystem, pkg.name !== "" ? pkg.name : purl ? nameFromPurl(purl) : ""),
    version: pkg.version !== "" ? pkg.version : (purl?.version ?? ""),
    arch: pkg.architecture !== "" ? pkg.architecture : (purl?.qualifiers?.["arch"] ?? ""),
  };
}

/**
 * Whether two versions name the same release. Exact match, except that a Debian/RPM epoch
 * written on one side only ("1:4.13-1" vs "4.13-1") and an explicit "0:" epoch are ignored,
 * since scanners differ on printing them.
 */
export function versionsMatch(a: string, b: string): boolean {
  if (a === b) return true;
  const strip = (v: string): string => v.replace(/^\d+:/, "");
  const explicitEpoch = (v: string): boolean => /^\d+:/.test(v) && !v.startsWith("0:");
  if (explicitEpoch(a) && explicitEpoch(b)) return false;
  return strip(a) === strip(b);
}
