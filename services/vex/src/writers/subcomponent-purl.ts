/**
 * The purl a statement names its subcomponent by. Grype and Trivy suppress a finding only when
 * the VEX repeats their own identifier, so the scan's purl is used byte for byte, never
 * re-encoded or normalised. Only when the scan gave none (Grype's `artifact.purl` may be
 * empty) is one built from the scan's package type, name and version with packageurl-js.
 */
import { PackageURL } from "packageurl-js";
import type { Verdict } from "@vexxy/proto";

/** Scanner package types (Grype's artifact.type, Trivy's Class/Type) → purl types. */
const PURL_TYPES: Readonly<Record<string, string>> = {
  deb: "deb",
  debian: "deb",
  ubuntu: "deb",
  rpm: "rpm",
  apk: "apk",
  alpine: "apk",
  npm: "npm",
  "node-pkg": "npm",
  python: "pypi",
  pypi: "pypi",
  "python-pkg": "pypi",
  gem: "gem",
  gemspec: "gem",
  "go-module": "golang",
  gobinary: "golang",
  gomod: "golang",
  "rust-crate": "cargo",
  cargo: "cargo",
  nuget: "nuget",
  dotnet: "nuget",
  "php-composer": "composer",
  composer: "composer",
};

/** Splits a scoped npm name or a go module path into purl namespace and name. */
function splitName(type: string, name: string): { namespace?: string; name: string } {
  if ((type === "npm" || type === "golang" || type === "composer") && name.includes("/")) {
    const at = name.lastIndexOf("/");
    return { namespace: name.slice(0, at), name: name.slice(at + 1) };
  }
  return { name };
}

/**
 * The subcomponent purl of a verdict: the scan's purl when it had one, otherwise one built from
 * its package type (`pkg:generic/…` for types without a purl type), name and version.
 * Never throws: a name packageurl-js refuses falls back to `pkg:generic/unknown`.
 */
export function subcomponentPurl(verdict: Verdict): string {
  if (verdict.packagePurl.trim() !== "") return verdict.packagePurl;
  const type = PURL_TYPES[verdict.packageType.toLowerCase()] ?? "generic";
  const { namespace, name } = splitName(type, verdict.packageName);
  try {
    return new PackageURL(
      type,
      namespace,
      name === "" ? "unknown" : name,
      verdict.packageVersion === "" ? undefined : verdict.packageVersion,
      undefined,
      undefined,
    ).toString();
  } catch {
    try {
      return new PackageURL(
        "generic",
        undefined,
        verdict.packageName === "" ? "unknown" : verdict.packageName,
        verdict.packageVersion === "" ? undefined : verdict.packageVersion,
        undefined,
        undefined,
      ).toString();
    } catch {
      return "pkg:generic/unknown";
    }
  }
}
