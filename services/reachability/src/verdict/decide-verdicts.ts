/**
 * The reachability decision: for every (vulnerability, package) row of the scan, a Verdict
 * with status, justification, confidence, a reason in words and the evidence behind it.
 *
 * Rules, in order (fail closed: when unsure, under_investigation):
 *  1. the package's ecosystem was not read by the catalogue      -> under_investigation
 *  2. no package of that name in a read ecosystem                 -> not_affected / component_not_present
 *  3. present only in another version                             -> under_investigation
 *  4. a file of it executed, opened successfully, or the ELF
 *     interpreter of an executed binary                           -> affected
 *     (profiles with uses: matched by (device, inode) when both sides carry identities, else
 *     by the kernel-resolved path against every name of every catalogued file; evidence kinds
 *     code_executed / code_mapped / file_read — a file read is a use too)
 *  5. no file list to map, or install_state "partial"            -> under_investigation
 *  6. the trace is incomplete (any loss reason, a use that could
 *     not be attributed), the run ended badly, a relative
 *     open or an unseen "#!" interpreter could be its file        -> under_investigation
 *  7. otherwise                                                   -> not_affected / vulnerable_code_not_in_execute_path
 *
 * The confidence and its named factors (confidence.ts) are computed after the decision and never
 * change it: a low score does not turn not_affected into under_investigation, nor the reverse.
 */
import {
  VexJustification,
  VexStatus,
  type BlobRef,
  type CataloguedPackage,
  type ExecutionProfile,
  type ImageCatalogue,
  type ProfileSummary,
  type Verdict,
} from "@vexxy/proto";
import type { ScanFinding, VulnerabilityReport } from "@vexxy/scan-report";
import { assessConfidence, type CatalogueMeasure, type EvidenceMeasure, type RunMeasure, type VerdictKind } from "./confidence.js";
import { canonicalEcosystem } from "./ecosystem.js";
import { evidenceMessage, factorMessage, verdictMessage, type EvidenceFields, type FactorFields } from "./messages.js";
import { cataloguedPackageIdentity, scanPackageIdentity, versionsMatch, type PackageIdentity } from "./package-identity.js";
import { buildProfileSummary, coveragePercent } from "./profile-summary.js";
import { analyseReach, type ReachAnalysis, type Touch } from "./reach-analysis.js";
import { assessTrace, describeOutcome, type TraceAssessment } from "./trace-quality.js";

/** What a scoring needs. */
export interface ReachabilityInputs {
  readonly catalogue: ImageCatalogue;
  readonly profile: ExecutionProfile;
  readonly report: VulnerabilityReport;
  /** The stored profile, echoed in the summary. */
  readonly profileRef?: BlobRef;
}

/** Verdicts in scan order (one per distinct vulnerability and package) and the profile summary. */
export interface ReachabilityResult {
  readonly verdicts: Verdict[];
  readonly summary: ProfileSummary;
}

// Enough paths for an engineer to check; the count of the rest goes in one more entry.
const MAX_EVIDENCE_PATHS = 12;
const CODE_PATH = /(\.so(\.[0-9][0-9.]*)?$)|(\/s?bin\/[^/]+$)|(\/libexec\/)/;

interface Context {
  readonly catalogue: ImageCatalogue;
  readonly profile: ExecutionProfile;
  readonly analysis: ReachAnalysis;
  readonly trace: TraceAssessment;
  readonly readEcosystems: ReadonlySet<string>;
  readonly byName: ReadonlyMap<string, Array<{ index: number; pkg: CataloguedPackage; version: string; arch: string }>>;
  readonly countByEcosystem: ReadonlyMap<string, number>;
  readonly coverage: number;
  readonly run: RunMeasure;
  readonly catalogueGaps: CatalogueMeasure;
}

/** What the confidence of a decision is computed from (confidence.ts). */
interface Measure {
  readonly kind: VerdictKind;
  readonly evidence: EvidenceMeasure;
  /** The package's own catalogue gap, when it is what kept the verdict undecided. */
  readonly packageGap?: string;
}

/** Evidence as plain fields: a message is made only for the verdict that carries it. */
type EvidenceInit = EvidenceFields;

type Decision = Pick<Verdict, "status" | "justification" | "reason"> & { evidence: EvidenceInit[]; measure: Measure };

/** A decision and its confidence, the same for every finding of one package row of the scan. */
interface Scored {
  readonly status: Verdict["status"];
  readonly justification: Verdict["justification"];
  readonly reason: string;
  readonly evidence: readonly EvidenceInit[];
  readonly confidence: number;
  readonly factors: readonly FactorFields[];
}

/**
 * Scores every finding of the report against the catalogue and the profile.
 * Pure; never throws on odd input (unknown ecosystems, unresolvable paths): those become
 * under_investigation.
 */
export function scoreReachability(inputs: ReachabilityInputs): ReachabilityResult {
  const { catalogue, profile } = inputs;
  const analysis = analyseReach(catalogue, profile);
  const byName = new Map<string, Array<{ index: number; pkg: CataloguedPackage; version: string; arch: string }>>();
  const countByEcosystem = new Map<string, number>();
  catalogue.packages.forEach((pkg, index) => {
    const id = cataloguedPackageIdentity(pkg);
    const key = `${id.ecosystem}\u0000${id.name}`;
    const list = byName.get(key) ?? [];
    list.push({ index, pkg, version: id.version, arch: id.arch });
    byName.set(key, list);
    countByEcosystem.set(id.ecosystem, (countByEcosystem.get(id.ecosystem) ?? 0) + 1);
  });
  const readEcosystems = new Set(catalogue.ecosystems.map(canonicalEcosystem));
  // Findings repeat their package (one row per vulnerability): its identity, decision and
  // confidence depend only on the package's fields, so each is computed once per package row.
  const identities = new Map<string, PackageIdentity>();
  const identityOf = (finding: ScanFinding, row: string): PackageIdentity => {
    let id = identities.get(row);
    if (id === undefined) {
      id = scanPackageIdentity(finding.pkg);
      identities.set(row, id);
    }
    return id;
  };
  const notRead = new Set<string>();
  for (const finding of inputs.report.findings) {
    const ecosystem = identityOf(finding, packageRow(finding)).ecosystem;
    if (!readEcosystems.has(ecosystem)) notRead.add(ecosystem || finding.pkg.type || "unknown");
  }
  const coverage = coveragePercent(catalogue, analysis);
  const context: Context = {
    catalogue,
    profile,
    analysis,
    trace: assessTrace(profile),
    readEcosystems,
    byName,
    countByEcosystem,
    coverage,
    run: {
      complete: profile.complete,
      lossReasons: profile.lossReasons,
      durationSeconds: profile.durationSeconds,
      outcome: profile.outcome,
      exercise: profile.exercise,
      coveragePercent: coverage,
    },
    catalogueGaps: {
      ecosystemsNotRead: [...notRead].sort(),
      partialPackages: catalogue.packages.filter((p) => p.installState === "partial").length,
    },
  };

  const verdicts: Verdict[] = [];
  const seen = new Map<string, Verdict>();
  const scoredRows = new Map<string, Scored>();
  for (const finding of inputs.report.findings) {
    const row = packageRow(finding);
    const key = `${finding.vulnerabilityId}\u0000${row}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      for (const alias of finding.aliases) if (!earlier.aliases.includes(alias)) earlier.aliases.push(alias);
      continue;
    }
    let scored = scoredRows.get(row);
    if (scored === undefined) {
      scored = score(decide(finding, identityOf(finding, row), context), context);
      scoredRows.set(row, scored);
    }
    // Every verdict gets its own evidence and factor messages (made from the plain fields).
    const verdict = verdictMessage({
      vulnerabilityId: finding.vulnerabilityId,
      aliases: [...finding.aliases],
      packageName: finding.pkg.name,
      packageVersion: finding.pkg.version,
      packagePurl: finding.pkg.purl,
      packageType: finding.pkg.type,
      severity: finding.severity,
      status: scored.status,
      justification: scored.justification,
      reason: scored.reason,
      evidence: scored.evidence.map(evidenceMessage),
      confidence: scored.confidence,
      factors: scored.factors.map(factorMessage),
    });
    seen.set(key, verdict);
    verdicts.push(verdict);
  }
  return { verdicts, summary: buildProfileSummary(profile, catalogue, analysis, inputs.profileRef) };
}

/** The fields a verdict's decision depends on (with the vulnerability id: the de-duplication key). */
function packageRow(finding: ScanFinding): string {
  return `${finding.pkg.type}\u0000${finding.pkg.name}\u0000${finding.pkg.version}\u0000${finding.pkg.purl}`;
}

/** The decision with its confidence, as plain fields. */
function score(decision: Decision, ctx: Context): Scored {
  const { measure } = decision;
  const confidence = assessConfidence({
    kind: measure.kind,
    evidence: measure.evidence,
    run: ctx.run,
    catalogue: measure.packageGap !== undefined ? { ...ctx.catalogueGaps, packageGap: measure.packageGap } : ctx.catalogueGaps,
  });
  return {
    status: decision.status,
    justification: decision.justification,
    reason: decision.reason,
    evidence: decision.evidence,
    confidence: confidence.score,
    factors: confidence.factors.map(({ name, value, effect, detail }) => ({ name, value, effect, detail })),
  };
}

function decide(finding: ScanFinding, id: PackageIdentity, ctx: Context): Decision {
  const label = `${finding.pkg.name}${finding.pkg.version !== "" ? ` ${finding.pkg.version}` : ""}`;

  if (id.ecosystem === "" || !ctx.readEcosystems.has(id.ecosystem)) {
    const read = ctx.catalogue.ecosystems.length > 0 ? ctx.catalogue.ecosystems.join(", ") : "none";
    const why = `ecosystem "${id.ecosystem || "unknown"}" not among the catalogued ecosystems (${read})`;
    return underInvestigation(
      { kind: "under_investigation", evidence: { kind: "ecosystem_not_read", why }, packageGap: why },
      `${label} is a package of type "${finding.pkg.type || id.ecosystem || "unknown"}", and the image catalogue read only these package databases: ${read}; whether it is installed and whether it ran cannot be decided from this analysis`,
      [evidence("ecosystem_not_catalogued", "", `package ${why}`)],
    );
  }

  const sameName = ctx.byName.get(`${id.ecosystem}\u0000${id.name}`) ?? [];
  if (sameName.length === 0) {
    const listed = ctx.countByEcosystem.get(id.ecosystem) ?? 0;
    return {
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.COMPONENT_NOT_PRESENT,
      measure: { kind: "component_not_present", evidence: { kind: "package_absent", listed } },
      reason: `${label} is not installed in the image: its ${id.ecosystem} package database was read and lists ${listed} packages, none named "${finding.pkg.name}"`,
      evidence: [evidence("package_absent", "", `no ${id.ecosystem} package named "${finding.pkg.name}" among ${listed} catalogued ${id.ecosystem} packages`)],
    };
  }

  let matched = id.version === "" ? sameName : sameName.filter((c) => versionsMatch(id.version, c.version));
  if (matched.length === 0) {
    const installed = sameName.map((c) => c.version).join(", ");
    return underInvestigation(
      { kind: "under_investigation", evidence: { kind: "undecided", why: `scan version "${id.version}", installed ${installed}` } },
      `the scan names ${label}, but the image holds ${finding.pkg.name} in version ${installed}; the scan does not describe this image's package, so no claim is made`,
      [evidence("version_mismatch", "", `scan version "${id.version}", installed ${installed}`)],
    );
  }
  if (matched.length > 1 && id.arch !== "") {
    const sameArch = matched.filter((c) => c.arch === id.arch || c.arch === "all" || c.arch === "");
    if (sameArch.length > 0) matched = sameArch;
  }

  const touches = matched.flatMap((c) => ctx.analysis.touches.get(c.index) ?? []);
  if (touches.length > 0) return affected(label, touches);

  if (!matched.some((c) => ctx.analysis.index.hasFileList(c.index))) {
    return underInvestigation(
      { kind: "under_investigation", evidence: { kind: "no_file_list", why: "the package database lists no files for it" }, packageGap: "no file list" },
      `${label} is installed but its package database entry lists no files, so the traced file accesses cannot be mapped to it`,
      [evidence("no_file_list", "", `${finding.pkg.name} has no file list in the image catalogue`)],
    );
  }

  const partial = matched.filter((c) => c.pkg.installState === "partial");
  if (partial.length > 0) {
    return underInvestigation(
      {
        kind: "under_investigation",
        evidence: { kind: "undecided", why: "not fully installed: its files may not be the ones listed" },
        packageGap: 'dpkg install_state "partial"',
      },
      `${label} is not fully installed in the image (dpkg state: half-installed, unpacked or awaiting configuration), so its files may not be the ones the catalogue lists; no claim is made`,
      [evidence("install_state_partial", "", `${finding.pkg.name} install_state "partial"`)],
    );
  }

  const gaps: EvidenceInit[] = ctx.trace.gaps.map((gap) => evidence("trace_incomplete", "", gap));
  for (const gap of ctx.analysis.unattributed.slice(0, MAX_EVIDENCE_PATHS)) gaps.push(evidence("unattributed", "", gap));
  for (const c of matched) {
    for (const suspect of ctx.analysis.relativeSuspects.get(c.index) ?? []) {
      gaps.push(
        evidence(
          "relative_open",
          suspect.relativePath,
          `opened through a relative path whose directory the tracer could not resolve; it could be this package's ${suspect.packageFile}`,
        ),
      );
    }
    // Only an executed file with no known interpreter makes a package's interpreters matter.
    const interpreterFiles = ctx.analysis.executedWithoutKnownInterpreter.length > 0 ? ctx.analysis.index.interpreterFilesOf(c.index) : [];
    if (interpreterFiles.length > 0) {
      for (const executed of ctx.analysis.executedWithoutKnownInterpreter) {
        gaps.push(
          evidence(
            "interpreter_unknown",
            executed,
            `executed with no ELF interpreter recorded in the catalogue (a script or a static binary); a script's "#!" interpreter runs without a traced open, and this package ships ${interpreterFiles.slice(0, 3).join(", ")}`,
          ),
        );
      }
    }
  }
  if (gaps.length > 0) {
    return underInvestigation(
      { kind: "under_investigation", evidence: { kind: "undecided", why: `${gaps.length} gaps in the trace could hide a use` } },
      `${label} is installed and none of its files was seen in use, but the trace cannot rule out its use: ${gaps
        .slice(0, 3)
        .map((g) => (g.path !== "" ? `${g.path}: ${g.detail}` : g.detail))
        .join("; ")}${gaps.length > 3 ? `; and ${gaps.length - 3} more` : ""}`,
      gaps.slice(0, MAX_EVIDENCE_PATHS),
    );
  }

  const files = new Set(matched.flatMap((c) => c.pkg.files)).size;
  const present = new Set(matched.flatMap((c) => c.pkg.resolvedFiles)).size;
  const profile = ctx.profile;
  const run = `${profile.durationSeconds.toFixed(1)} s, ${describeOutcome(profile.outcome)}`;
  return {
    status: VexStatus.NOT_AFFECTED,
    justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
    measure: { kind: "not_in_execute_path", evidence: { kind: "no_file_used", files } },
    reason: `${label} is installed (${files} listed files, ${present} present in the image), but none of its files was opened or executed, nor used as an ELF interpreter, during a complete ${profile.tracer || "tracer"} trace of the run (${run}); ${ctx.analysis.touchedPackages} of ${ctx.catalogue.packages.length} catalogued packages were used`,
    evidence: [
      evidence(
        "no_file_touched",
        "",
        `none of ${files} listed files (${present} present after resolving symlinks) among ${ctx.analysis.filesUsed} traced files`,
      ),
      evidence(
        "trace_complete",
        "",
        `tracer ${profile.tracer || "unknown"} attached before start and reported no loss; ${profile.eventsTraced} events; run ${run}; code coverage ${ctx.coverage}% of packages`,
      ),
    ],
  };
}

function affected(label: string, touches: readonly Touch[]): Decision {
  const ordered = touches
    .map((touch) => ({ touch, rank: rank(touch) }))
    .sort((a, b) => a.rank - b.rank)
    .map((ranked) => ranked.touch);
  const kinds = new Set(ordered.map((t) => t.kind));
  const evidenceKind =
    kinds.has("executed") || kinds.has("elf_interpreter") || kinds.has("code_executed")
      ? "code_executed"
      : kinds.has("code_mapped")
        ? "code_mapped"
        : ordered.some((t) => CODE_PATH.test(t.path))
          ? "code_file_opened"
          : "file_read";
  const shown = ordered
    .slice(0, 3)
    .map((t) => `${t.path} ${t.detail}`)
    .join("; ");
  const list = ordered.slice(0, MAX_EVIDENCE_PATHS).map((t) => evidence(t.kind, t.path, t.detail));
  if (ordered.length > MAX_EVIDENCE_PATHS) {
    list.push(evidence("more_files", "", `${ordered.length - MAX_EVIDENCE_PATHS} more files of the package were used`));
  }
  return {
    status: VexStatus.AFFECTED,
    justification: VexJustification.UNSPECIFIED,
    measure: { kind: "affected", evidence: { kind: evidenceKind, files: ordered.length } },
    reason: `${label} was used during the traced run (${ordered.length} of its files): ${shown}${ordered.length > 3 ? "; ..." : ""}`,
    evidence: list,
  };
}

function rank(touch: Touch): number {
  if (touch.kind === "executed") return 0;
  if (touch.kind === "elf_interpreter") return 1;
  return CODE_PATH.test(touch.path) ? 2 : 3;
}

function underInvestigation(measure: Measure, reason: string, list: EvidenceInit[]): Decision {
  return { status: VexStatus.UNDER_INVESTIGATION, justification: VexJustification.UNSPECIFIED, measure, reason, evidence: list };
}

function evidence(kind: string, path: string, detail: string): EvidenceInit {
  return { kind, path, detail };
}
