/** Shared test data: verdicts of each kind, a job, settings, fixture reading and fresh keys. */
import { readFileSync } from "node:fs";
import { generateKeyPairSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { JobRefSchema, VerdictSchema, VexJustification, VexStatus, type JobRef, type Verdict } from "@vexxy/proto";
import { signingKeyFrom, type SigningKey, type VexSettings } from "../src/lib.js";

/** A fixture file's text. */
export function fixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url)), "utf8");
}

export const DIGEST_HEX = "c".repeat(64);
export const DIGEST = `sha256:${DIGEST_HEX}`;

/** A fresh ECDSA P-256 signing key. */
export function freshKey(): SigningKey {
  return signingKeyFrom(generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey);
}

/** One verdict of each status, with the purls a Trivy and a Grype scan would give. */
export function sampleVerdicts(): Verdict[] {
  return [
    create(VerdictSchema, {
      vulnerabilityId: "CVE-2005-2541",
      packageName: "tar",
      packageVersion: "1.34+dfsg-1.2",
      packagePurl: "pkg:deb/debian/tar@1.34+dfsg-1.2?arch=amd64&distro=debian-12",
      packageType: "deb",
      status: VexStatus.AFFECTED,
      confidence: 0.95,
      reason: "tar was executed during the run.",
      evidence: [{ kind: "executed", path: "/usr/bin/tar", detail: "3 times" }],
    }),
    create(VerdictSchema, {
      vulnerabilityId: "CVE-2011-3374",
      packageName: "apt",
      packageVersion: "2.6.1",
      packagePurl: "pkg:deb/debian/apt@2.6.1?arch=amd64&distro=debian-12",
      packageType: "deb",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.VULNERABLE_CODE_NOT_IN_EXECUTE_PATH,
      confidence: 0.8,
      reason: "No file of apt was opened, mapped or executed during a run with 62% package coverage.",
      evidence: [{ kind: "no_file_touched", detail: "43 files owned" }],
    }),
    create(VerdictSchema, {
      vulnerabilityId: "CVE-2023-38545",
      packageName: "curl",
      packageVersion: "7.88.1-10",
      packagePurl: "pkg:deb/debian/curl@7.88.1-10",
      packageType: "deb",
      status: VexStatus.NOT_AFFECTED,
      justification: VexJustification.COMPONENT_NOT_PRESENT,
      confidence: 0.95,
      reason: "curl is not installed in the image.",
      evidence: [{ kind: "package_absent", detail: "not in /var/lib/dpkg/status" }],
    }),
    create(VerdictSchema, {
      vulnerabilityId: "GHSA-35jh-r3h4-6jhm",
      aliases: ["CVE-2021-23337"],
      packageName: "lodash",
      packageVersion: "4.17.20",
      packagePurl: "pkg:npm/lodash@4.17.20",
      packageType: "npm",
      status: VexStatus.UNDER_INVESTIGATION,
      confidence: 0.2,
      reason: "npm packages are not catalogued.",
      evidence: [{ kind: "ecosystem_not_catalogued" }],
    }),
  ];
}

/** A job analysing an OCI layout with a tag, to be pushed as ghcr.io/example/demo-image:demo. */
export function sampleJob(overrides: Partial<Pick<JobRef, "jobId" | "attempt" | "imageRef" | "imageDigest" | "imageName" | "tagIdentifiers">> = {}): JobRef {
  return create(JobRefSchema, {
    jobId: "0b0e7a4e-0000-4000-8000-000000000001",
    attempt: 1,
    organizationId: "org-1",
    imageRef: "oci:/srv/images/demo-image:demo",
    imageDigest: DIGEST,
    imageName: "ghcr.io/example/demo-image:demo",
    ...overrides,
  });
}

export const SETTINGS: VexSettings = Object.freeze({ author: "VEXxy test", idBase: "https://vexxy.dev/vex/", tooling: "test tooling" });
