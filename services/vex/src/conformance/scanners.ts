/**
 * How Grype and Trivy decide whether an OpenVEX statement suppresses one of their findings, as
 * read in their source (our implementation, not theirs):
 *
 * Grype (anchore/grype grype/vex/openvex, FilterMatches): the products it tries are built from
 * the scanned image: each tag as written, `pkg:oci/<source name>?tag=<text after the tag's first
 * ':'>`, each repo digest as written, `pkg:oci/<last path component>@<digest>?repository_url=
 * <registry>/<repository without that component>` (Docker Hub as `index.docker.io`) and the bare
 * digest hex. A local layout or archive has no repo digest, so only the tag forms exist. For each
 * product in that order it asks go-vex for statements matching (vulnerability, product, [the
 * finding's purl]) and takes the first; failing all, it tries the finding's purl as the product.
 * A not_affected or fixed statement moves the finding to the ignored list.
 *
 * Trivy (aquasecurity/trivy pkg/vex, reachRoot): the image's purl exists only with a repo digest
 * (`pkg:oci/<name>@<digest>?arch=..&repository_url=<registry>/<repository>`). For a finding it
 * asks, in turn, (product = the package, no subcomponent), (product = the package, subcomponent =
 * the package), then each ancestor with a purl (the image) with the package as subcomponent; each
 * time it takes the last matching statement, and not_affected or fixed filters the finding.
 */
import { documentMatches, type IndexedStatement, type VexDocument } from "./go-vex-match.js";
import { parseDockerReference, repositoryName } from "./docker-reference.js";
import { formatPurl } from "./purl.js";

/** A finding as one tool identifies it. */
export interface ToolFinding {
  readonly vulnerabilityId: string;
  /** The package purl the tool built (empty: the tool had none, and VEX cannot match it). */
  readonly packagePurl: string;
}

/** What Grype knows of the scanned source (syft's source description). */
export interface GrypeSource {
  /** `image` for an image source (registry, daemon, layout or archive). */
  readonly kind: "image" | "other";
  /** Source name (syft's Description.Name). */
  readonly name: string;
  /** The image's tags, e.g. `alpine:3.19` (empty for most layouts). */
  readonly tags: readonly string[];
  /** Repo digests, e.g. `ghcr.io/team/app@sha256:…` (empty for a local layout or archive). */
  readonly repoDigests: readonly string[];
  /** Non-image sources: Description.Version. */
  readonly version?: string;
}

/** A tool's decision for one finding. */
export interface ToolDecision {
  readonly suppressed: boolean;
  /** The statement the tool applied (any status), if one matched. */
  readonly statement?: IndexedStatement;
  /** The product identifier the statement matched on. */
  readonly product?: string;
}

const SUPPRESSING = new Set(["not_affected", "fixed"]);

/** Grype's product identifiers for a source (productIdentifiersFromContext). */
export function grypeProducts(source: GrypeSource): string[] {
  if (source.kind !== "image") {
    return source.name !== "" && (source.version ?? "") !== "" ? [`pkg:generic/${source.name.toLowerCase()}@${source.version ?? ""}`] : [];
  }
  const ids: string[] = [];
  for (const tag of source.tags) {
    ids.push(tag);
    const colon = tag.indexOf(":");
    if (colon >= 0) ids.push(formatPurl({ type: "oci", name: source.name, qualifiers: { tag: tag.slice(colon + 1) } }));
  }
  for (const d of source.repoDigests) {
    ids.push(d);
    const ref = parseDockerReference(d);
    if (ref?.digest === undefined) continue;
    const name = repositoryName(ref);
    const repoUrl = `${ref.registry}/${ref.repository}`.slice(0, -(name.length + 1));
    ids.push(formatPurl({ type: "oci", name, version: ref.digest, qualifiers: repoUrl === "" ? {} : { repository_url: repoUrl } }));
    ids.push(ref.digest.replace(/^sha256:/, ""));
  }
  return ids;
}

/** Grype's decision for one finding (findMatchingStatement, then the status check). */
export function grypeDecision(doc: VexDocument, products: readonly string[], finding: ToolFinding): ToolDecision {
  const subs = finding.packagePurl === "" ? [] : [finding.packagePurl];
  for (const product of products) {
    const first = documentMatches(doc, finding.vulnerabilityId, product, subs)[0];
    if (first !== undefined) return { suppressed: SUPPRESSING.has(first.statement.status ?? ""), statement: first, product };
  }
  for (const product of subs) {
    const first = documentMatches(doc, finding.vulnerabilityId, product, [])[0];
    if (first !== undefined) return { suppressed: SUPPRESSING.has(first.statement.status ?? ""), statement: first, product };
  }
  return { suppressed: false };
}

/**
 * Trivy's purl of a scanned image (purl.parseOCI): only from its first repo digest; undefined
 * for a local layout or archive.
 */
export function trivyImagePurl(repoDigests: readonly string[], architecture = ""): string | undefined {
  const first = repoDigests[0];
  if (first === undefined) return undefined;
  const ref = parseDockerReference(first);
  if (ref?.digest === undefined) return undefined;
  return formatPurl({
    type: "oci",
    name: repositoryName(ref).toLowerCase(),
    version: ref.digest,
    qualifiers: { repository_url: `${ref.registry}/${ref.repository}`, ...(architecture !== "" ? { arch: architecture } : {}) },
  });
}

/**
 * Trivy's decision for one finding (reachRoot). `ancestors` are the purls of the components on
 * the path from the package up to the root, nearest first (for an OS package of an image: just
 * the image's purl, the OS component has none; for a transitive Go module: its parent module,
 * then the root). Components without a purl are left out.
 */
export function trivyDecision(doc: VexDocument, ancestors: readonly string[], finding: ToolFinding): ToolDecision {
  if (finding.packagePurl === "") return { suppressed: false };
  const attempts: Array<[string, string]> = [
    [finding.packagePurl, ""],
    [finding.packagePurl, finding.packagePurl],
    ...ancestors.map((a) => [a, finding.packagePurl] as [string, string]),
  ];
  let applied: ToolDecision = { suppressed: false };
  for (const [product, sub] of attempts) {
    const found = documentMatches(doc, finding.vulnerabilityId, product, [sub]);
    const last = found[found.length - 1];
    if (last === undefined) continue;
    if (SUPPRESSING.has(last.statement.status ?? "")) return { suppressed: true, statement: last, product };
    applied = applied.statement === undefined ? { suppressed: false, statement: last, product } : applied;
  }
  return applied;
}
