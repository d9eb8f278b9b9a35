/**
 * The conformance self-check run on every document before it is signed: for each not_affected
 * statement, would Grype and would Trivy apply it to the findings it answers, when they scan the
 * image the way a customer does (scanners.ts holds the tools' rules)?
 *
 * Each tool's view of a finding is built from the scan's finding: Grype's purl and id as the scan
 * gave them (Grype JSON is the scan format we read), Trivy's purl rebuilt with Trivy's
 * conventions (deb: epoch moved from the version to an `epoch=` qualifier, `distro=<id>-<full
 * version>`, no `upstream=`; apk: `distro=<version>`) and its id the CVE when the finding has one.
 * A statement "applies" for a tool when every finding it answers is suppressed by that very
 * statement.
 */
import { VexStatus, type Verdict } from "@vexxy/proto";
import type { ProductIdentity } from "../product-identity.js";
import { subcomponentPurl } from "../writers/subcomponent-purl.js";
import { VexNotApplicableError } from "../errors.js";
import type { VexDocument, VexStatement } from "./go-vex-match.js";
import { formatPurl, parsePurl } from "./purl.js";
import { grypeDecision, grypeProducts, trivyDecision, trivyImagePurl, type GrypeSource, type ToolFinding } from "./scanners.js";

/** How the customer's scanners saw the image. */
export interface ScanContext {
  /** Short description, e.g. "registry scan of ghcr.io/team/app@sha256:…". */
  readonly label: string;
  readonly grype: GrypeSource;
  /** Trivy's purl of the image (undefined: Trivy has none, e.g. a local layout). */
  readonly trivyImagePurl: string | undefined;
  /** Trivy's `distro` qualifier for OS packages (`debian-12.5`); unset: the scan's distro is reused. */
  readonly trivyDistro?: string;
}

/** One not_affected statement's outcome. */
export interface StatementConformance {
  readonly index: number;
  readonly vulnerability: string;
  readonly subcomponent: string;
  readonly findings: number;
  readonly grype: boolean;
  readonly trivy: boolean;
}

/** The self-check's result for one scan context. */
export interface ConformanceReport {
  readonly context: string;
  /** not_affected statements checked. */
  readonly notAffected: number;
  readonly grypeSuppressed: number;
  readonly trivySuppressed: number;
  readonly statements: readonly StatementConformance[];
  /** "Grype would suppress N of M, Trivy K of M". */
  readonly summary: string;
}

/**
 * The scan context of the image pulled from its registry by name: repo digest
 * `<registry>/<repository>@sha256:<hex>`, the tag when known.
 */
export function registryScanContext(identity: ProductIdentity, architecture = "amd64"): ScanContext {
  const repo = `${identity.subjectName}`;
  const digest = `${repo}@sha256:${identity.digestHex}`;
  return {
    label: `registry scan of ${digest}`,
    grype: { kind: "image", name: repo, tags: identity.reference.tag !== undefined ? [`${repo}:${identity.reference.tag}`] : [], repoDigests: [digest] },
    trivyImagePurl: trivyImagePurl([digest], architecture),
  };
}

/**
 * The scan context of the local layout or archive before it is pushed: tags only, no repo digest
 * (Grype then has only tag identifiers; Trivy builds no image purl at all).
 */
export function localScanContext(identity: ProductIdentity, repositoryAsWritten: string): ScanContext {
  const tag = identity.reference.tag;
  return {
    label: `local layout scan tagged ${repositoryAsWritten}${tag !== undefined ? `:${tag}` : ""}`,
    grype: { kind: "image", name: repositoryAsWritten, tags: tag !== undefined ? [`${repositoryAsWritten}:${tag}`] : [], repoDigests: [] },
    trivyImagePurl: undefined,
  };
}

function epochAndVersion(version: string, qualifiers: ReadonlyMap<string, string>): { epoch: string; version: string } {
  const m = /^(\d+):(.*)$/.exec(version);
  if (m !== null) return { epoch: m[1] ?? "", version: m[2] ?? "" };
  return { epoch: qualifiers.get("epoch") ?? "", version };
}

/** Grype's and Trivy's purls for the package of a finding. */
export function toolPurls(verdict: Verdict, trivyDistro?: string): { grype: string; trivy: string } {
  return toolPurlsOf(subcomponentPurl(verdict), trivyDistro);
}

function toolPurlsOf(exact: string, trivyDistro: string | undefined): { grype: string; trivy: string } {
  const p = parsePurl(exact);
  // Grype compares an unparsable identifier as a string; Trivy has no purl at all then.
  if (p === undefined) return { grype: exact, trivy: "" };
  const q = Object.fromEntries(p.qualifiers);
  if (p.type === "deb" || p.type === "rpm") {
    const { epoch, version } = epochAndVersion(p.version, p.qualifiers);
    const distro = q["distro"] ?? "";
    const major = distro.replace(/^([a-z]+-\d+)\..*$/, "$1");
    const grypeQ: Record<string, string> = { ...q, ...(distro !== "" ? { distro: major } : {}) };
    delete grypeQ["epoch"];
    const trivyQ: Record<string, string> = { ...q, ...(trivyDistro !== undefined ? { distro: trivyDistro } : {}), ...(epoch !== "" ? { epoch } : {}) };
    delete trivyQ["upstream"];
    return {
      grype: formatPurl({ type: p.type, namespace: p.namespace, name: p.name, version: epoch !== "" ? `${epoch}:${version}` : version, qualifiers: grypeQ }),
      trivy: formatPurl({ type: p.type, namespace: p.namespace, name: p.name, version, qualifiers: trivyQ }),
    };
  }
  if (p.type === "apk") {
    const version = (q["distro"] ?? "").replace(/^[a-z]+-/, "");
    return {
      grype: formatPurl({
        type: p.type,
        namespace: p.namespace,
        name: p.name,
        version: p.version,
        qualifiers: { ...q, ...(version !== "" ? { distro: `${p.namespace}-${version}` } : {}) },
      }),
      trivy: formatPurl({
        type: p.type,
        namespace: p.namespace,
        name: p.name,
        version: p.version,
        qualifiers: { ...q, ...(version !== "" ? { distro: version } : {}) },
      }),
    };
  }
  return { grype: exact, trivy: exact };
}

/** Trivy's vulnerability id for a finding: its CVE when it has one. */
export function trivyVulnerabilityId(verdict: Verdict): string {
  return [verdict.vulnerabilityId, ...verdict.aliases].find((id) => id.startsWith("CVE-")) ?? verdict.vulnerabilityId;
}

function pct(n: number, of: number): string {
  return `${n} of ${of}`;
}

/**
 * Runs both tools' rules over a written document. `statementVerdicts[i]` are the findings
 * statement i answers (the writer returns them). Never throws.
 */
export function checkConformance(document: VexDocument, statementVerdicts: readonly (readonly Verdict[])[], context: ScanContext): ConformanceReport {
  const products = grypeProducts(context.grype);
  const statements = document.statements ?? [];
  const results: StatementConformance[] = [];
  // Findings share purls (a package has many vulnerabilities): each purl's tool forms are made once.
  const purlsOf = new Map<string, { grype: string; trivy: string }>();
  const toolPurlsCached = (v: Verdict): { grype: string; trivy: string } => {
    const exact = subcomponentPurl(v);
    let purls = purlsOf.get(exact);
    if (purls === undefined) {
      purls = toolPurlsOf(exact, context.trivyDistro);
      purlsOf.set(exact, purls);
    }
    return purls;
  };
  statements.forEach((s: VexStatement, index) => {
    if (s.status !== "not_affected") return;
    const members = (statementVerdicts[index] ?? []).filter((v) => v.status === VexStatus.NOT_AFFECTED);
    const applies = (tool: "grype" | "trivy"): boolean =>
      members.length > 0 &&
      members.every((v) => {
        const purls = toolPurlsCached(v);
        const finding: ToolFinding =
          tool === "grype"
            ? { vulnerabilityId: v.vulnerabilityId, packagePurl: purls.grype }
            : { vulnerabilityId: trivyVulnerabilityId(v), packagePurl: purls.trivy };
        const decision =
          tool === "grype"
            ? grypeDecision(document, products, finding)
            : trivyDecision(document, context.trivyImagePurl !== undefined ? [context.trivyImagePurl] : [], finding);
        return decision.suppressed && decision.statement?.index === index;
      });
    const sub = s.products?.[0]?.subcomponents?.[0]?.["@id"] ?? "";
    results.push({
      index,
      vulnerability: s.vulnerability?.name ?? "",
      subcomponent: sub,
      findings: members.length,
      grype: applies("grype"),
      trivy: applies("trivy"),
    });
  });
  const grype = results.filter((r) => r.grype).length;
  const trivy = results.filter((r) => r.trivy).length;
  return {
    context: context.label,
    notAffected: results.length,
    grypeSuppressed: grype,
    trivySuppressed: trivy,
    statements: results,
    summary: `Grype would suppress ${pct(grype, results.length)}, Trivy ${pct(trivy, results.length)}`,
  };
}

/**
 * The self-check's verdict on a document.
 * @throws VexNotApplicableError naming every not_affected statement neither tool would apply.
 */
export function requireApplicable(report: ConformanceReport): void {
  const neither = report.statements.filter((s) => !s.grype && !s.trivy).map((s) => `/statements/${s.index} (${s.vulnerability} in ${s.subcomponent})`);
  if (neither.length > 0) throw new VexNotApplicableError(neither);
}
