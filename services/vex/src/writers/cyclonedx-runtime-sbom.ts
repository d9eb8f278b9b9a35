/**
 * The runtime-filtered CycloneDX 1.6 SBOM: the image as metadata.component and, as components,
 * only the scanned packages the traced run was seen using, each with the files it used as
 * `evidence.occurrences[]` (`location`: the path in the image, `additionalContext`: the kind of
 * use and its detail).
 *
 * Built from the verdicts: a package is listed when a verdict of it is affected on evidence of
 * use (a file executed, mapped executable or opened; a path given). Packages decided otherwise
 * (not used, absent, undecided) are left out; a package the scan did not report has no verdict
 * and so is not listed either (the SBOM says what was seen in use among the scanned packages).
 * Occurrences are bounded per component (OCCURRENCES_MAX); the properties say how many files
 * were used in all, how many are not listed and which kinds of evidence were seen.
 */
import { Enums, Models } from "@cyclonedx/cyclonedx-library";
import { VexStatus, type Verdict } from "@vexxy/proto";
import { InvalidVexDocumentError } from "../errors.js";
import { PROPERTY_PREFIX, newBom, packageComponent, productProblems, serialNumberOf, serialiseBom } from "./cyclonedx-common.js";
import { subcomponentPurl } from "./subcomponent-purl.js";
import type { VexInput } from "./vex-writer.js";

/** Evidence kinds that are a use of a file (reachability's affected evidence). */
export const USE_EVIDENCE_KINDS: ReadonlySet<string> = new Set([
  "executed",
  "elf_interpreter",
  "code_executed",
  "code_mapped",
  "code_file_opened",
  "file_opened",
  "file_read",
]);

/** Occurrences listed per component at most. */
export const OCCURRENCES_MAX = 50;

/** A written, validated runtime SBOM. */
export interface RuntimeSbom {
  /** Its serialNumber (urn:uuid:...). */
  readonly serialNumber: string;
  readonly document: Record<string, unknown>;
  readonly json: string;
  /** The bom-refs (scan purls) of the packages listed, in order. */
  readonly packages: readonly string[];
}

interface UsedPackage {
  readonly verdict: Verdict;
  readonly uses: Map<string, string>;
  readonly kinds: Set<string>;
  /** Files used beyond those the verdicts name ("N more files of the package were used"). */
  more: number;
}

/** The verdict's uses of files: the evidence items of a use kind with a path. */
function uses(v: Verdict): { kind: string; path: string; detail: string }[] {
  return v.evidence.filter((e) => USE_EVIDENCE_KINDS.has(e.kind) && e.path !== "");
}

function moreFiles(v: Verdict): number {
  const more = v.evidence.find((e) => e.kind === "more_files");
  const n = /^(\d+)/.exec(more?.detail ?? "");
  return n === null ? 0 : Number(n[1]);
}

/** The serial number of a job's runtime SBOM. */
export function runtimeSbomSerial(documentId: string): string {
  return serialNumberOf(`${documentId}#sbom-runtime`);
}

/**
 * Writes the runtime SBOM of a job's verdicts and validates it. With no package seen in use the
 * SBOM lists no components (still a valid BOM naming the image).
 * @throws InvalidVexDocumentError when the product is not a pkg:oci purl or the document fails
 *   the CycloneDX 1.6 schema or the reference rules.
 */
export function writeRuntimeSbom(input: VexInput): RuntimeSbom {
  const refused = productProblems(input);
  if (refused.length > 0) throw new InvalidVexDocumentError(refused);
  const used = new Map<string, UsedPackage>();
  for (const v of input.verdicts) {
    if (v.status !== VexStatus.AFFECTED) continue;
    const list = uses(v);
    if (list.length === 0) continue;
    const purl = subcomponentPurl(v);
    const entry = used.get(purl) ?? { verdict: v, uses: new Map<string, string>(), kinds: new Set<string>(), more: 0 };
    for (const u of list) {
      entry.kinds.add(u.kind);
      if (!entry.uses.has(u.path)) entry.uses.set(u.path, [u.kind, u.detail].filter((s) => s !== "").join(": "));
    }
    // Verdicts of one package (one per vulnerability) repeat the same uses; the largest count is the package's.
    entry.more = Math.max(entry.more, moreFiles(v));
    used.set(purl, entry);
  }
  const serialNumber = runtimeSbomSerial(input.documentId);
  const bom = newBom(input, serialNumber, Enums.LifecyclePhase.Operations);
  bom.metadata.properties.add(
    new Models.Property(`${PROPERTY_PREFIX}sbom-filter`, "runtime: only the scanned packages with at least one file used during the traced run"),
  );
  const occurrences = new Map<string, { location: string; additionalContext: string }[]>();
  for (const [purl, entry] of used) {
    const component = packageComponent(purl, entry.verdict);
    const listed = [...entry.uses].slice(0, OCCURRENCES_MAX).map(([location, additionalContext]) => ({ location, additionalContext }));
    const total = entry.uses.size + entry.more;
    component.properties.add(new Models.Property(`${PROPERTY_PREFIX}evidence-kinds`, [...entry.kinds].sort().join(",")));
    component.properties.add(new Models.Property(`${PROPERTY_PREFIX}files-used`, String(total)));
    if (total > listed.length) component.properties.add(new Models.Property(`${PROPERTY_PREFIX}occurrences-not-listed`, String(total - listed.length)));
    bom.components.add(component);
    occurrences.set(purl, listed);
  }
  const { document, json } = serialiseBom(bom, (doc) => {
    // The library's model has no evidence.occurrences (CycloneDX 1.5+): added to the normalised JSON.
    const components = Array.isArray(doc["components"]) ? (doc["components"] as Record<string, unknown>[]) : [];
    for (const c of components) {
      const listed = occurrences.get(String(c["bom-ref"]));
      if (listed !== undefined && listed.length > 0) c["evidence"] = { occurrences: listed };
    }
  });
  return { serialNumber, document, json, packages: [...used.keys()] };
}
