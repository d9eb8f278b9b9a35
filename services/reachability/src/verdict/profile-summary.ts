/**
 * The ProfileSummary the results show: files accessed, executables run, shared libraries
 * loaded, completeness, outcome, and code coverage = catalogued packages touched / catalogued.
 */
import { create } from "@bufbuild/protobuf";
import { ProfileSummarySchema, type BlobRef, type ExecutionProfile, type ImageCatalogue, type ProfileSummary } from "@vexxy/proto";
import { round } from "./confidence.js";
import type { ReachAnalysis } from "./reach-analysis.js";

const SHARED_OBJECT = /\.so(\.[0-9][0-9.]*)?$/;

/** Share (0..100) of the catalogue's packages with at least one file touched; 0 for an empty catalogue. */
export function coveragePercent(catalogue: ImageCatalogue, analysis: ReachAnalysis): number {
  if (catalogue.packages.length === 0) return 0;
  return round((100 * analysis.touchedPackages) / catalogue.packages.length);
}

/**
 * Builds the summary. Files accessed = distinct paths opened successfully or executed;
 * executables = distinct executed paths; shared libraries = distinct successfully opened
 * `.so` paths, counted once per file after symlink resolution. With `uses`: distinct files by
 * identity, executed, and mapped executable; unowned code and untraced channel attempts
 * ("name: N ok, M failed") are carried.
 */
export function buildProfileSummary(profile: ExecutionProfile, catalogue: ImageCatalogue, analysis: ReachAnalysis, profileRef?: BlobRef): ProfileSummary {
  const accessed = new Set<string>();
  const executables = new Set<string>();
  const libraries = new Set<string>();
  for (const access of profile.files) {
    if (access.countOk === 0n && access.countFailed > 0n) continue;
    accessed.add(access.path);
    if (access.access === "exec") {
      executables.add(access.path);
    } else if (SHARED_OBJECT.test(access.path)) {
      libraries.add(analysis.resolver.resolve(access.path) ?? access.path);
    }
  }
  const withUses = profile.uses.length > 0;
  return create(ProfileSummarySchema, {
    durationSeconds: profile.durationSeconds,
    filesAccessed: withUses ? analysis.filesUsed : accessed.size,
    executablesRun: withUses ? analysis.executablesRun : executables.size,
    sharedLibrariesLoaded: withUses ? analysis.librariesMapped : libraries.size,
    unownedCode: [...analysis.unownedCode],
    untracedChannelAttempts: profile.untracedChannelAttempts.map((a) => `${a.syscall}: ${a.succeeded} ok, ${a.failed} failed`),
    eventsTraced: profile.eventsTraced,
    complete: profile.complete && profile.lossReasons.length === 0,
    lossReasons: [...profile.lossReasons],
    outcome: profile.outcome,
    codeCoveragePercent: coveragePercent(catalogue, analysis),
    ...(profileRef !== undefined ? { profile: profileRef } : {}),
  });
}
