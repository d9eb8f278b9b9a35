/**
 * One vocabulary for package ecosystems. Scanners, purls and the catalogue each name them
 * their own way (Grype `java-archive`, purl `maven`, catalogue `deb`); matching compares the
 * canonical names returned here.
 */

const CANONICAL: Readonly<Record<string, string>> = {
  deb: "deb",
  debian: "deb",
  dpkg: "deb",
  ubuntu: "deb",
  rpm: "rpm",
  apk: "apk",
  alpine: "apk",
  alpm: "alpm",
  npm: "npm",
  node: "npm",
  python: "python",
  pypi: "python",
  pip: "python",
  "java-archive": "java",
  "jenkins-plugin": "java",
  maven: "java",
  jar: "java",
  java: "java",
  "go-module": "go",
  golang: "go",
  go: "go",
  gem: "gem",
  rubygems: "gem",
  "rust-crate": "cargo",
  cargo: "cargo",
  "php-composer": "composer",
  composer: "composer",
  dotnet: "nuget",
  nuget: "nuget",
};

/** The canonical ecosystem of a scanner type, purl type or catalogue type ("" stays ""). */
export function canonicalEcosystem(name: string): string {
  const key = name.trim().toLowerCase();
  return CANONICAL[key] ?? key;
}

/**
 * The canonical form of a package name within its ecosystem: lower case everywhere (dpkg,
 * npm and PyPI names are case-insensitive in practice), and PEP 503 folding for Python.
 */
export function canonicalPackageName(ecosystem: string, name: string): string {
  const lower = name.trim().toLowerCase();
  return ecosystem === "python" ? lower.replace(/[-_.]+/g, "-") : lower;
}
