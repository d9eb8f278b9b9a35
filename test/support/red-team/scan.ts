/**
 * A Grype-format scan (the shape of deploy/local/demo-image/scan.grype.json) naming one made-up
 * vulnerability per installed package of the prepared root, so every package gets a verdict:
 * the packages a case uses, the ground-truth owners and the controls alike.
 */

/** The vulnerability id the scan gives a package. */
export function findingIdOf(pkg: string): string {
  return `VEXXY-RT-${pkg}`;
}

/** The scan's JSON text for these packages (versions exactly as dpkg lists them). */
export function grypeScanFor(packages: ReadonlyArray<{ name: string; version: string; arch: string }>, manifestDigest: string): string {
  const matches = packages.map((p, i) => ({
    vulnerability: {
      id: findingIdOf(p.name),
      dataSource: "test/red-team.test.ts",
      namespace: "debian:distro:debian:12",
      severity: "High",
      urls: [],
      cvss: [],
      fix: { versions: [], state: "not-fixed" },
      advisories: [],
    },
    relatedVulnerabilities: [],
    matchDetails: [],
    artifact: {
      id: `rt${i.toString(16).padStart(14, "0")}`,
      name: p.name,
      version: p.version,
      type: "deb",
      locations: [{ path: "/var/lib/dpkg/status" }],
      language: "",
      licenses: [],
      cpes: [],
      purl: `pkg:deb/debian/${p.name}@${p.version}?arch=${p.arch}&distro=debian-12`,
      upstreams: [],
      metadataType: "DpkgMetadata",
    },
  }));
  return JSON.stringify({
    matches,
    source: { type: "image", target: { userInput: "red-team root", manifestDigest, architecture: "amd64", os: "linux" } },
    distro: { name: "debian", version: "12", idLike: [] },
    descriptor: { name: "grype", version: "[synthetic: one finding per installed package, red-team suite]", timestamp: "2025-01-01T00:00:00Z" },
  });
}
