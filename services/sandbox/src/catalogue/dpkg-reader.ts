/**
 * The dpkg catalogue reader: installed packages from var/lib/dpkg/status (Status "install ok
 * installed" only), their files from var/lib/dpkg/info/<pkg>[:<arch>].list (directories
 * omitted), and purls in the form Trivy and Grype write for Debian
 * (pkg:deb/<distro>/<name>@<version>?arch=<arch>&distro=<id>-<version_id>).
 */
import { lstat, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PackageURL } from "packageurl-js";
import type { OsRelease, PackageCatalogueReader, RawPackage } from "./package-catalogue-reader.js";
import { resolveInRoot } from "./resolve-in-root.js";

interface Stanza {
  readonly [field: string]: string | undefined;
}

function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last = "";
    for (const line of block.split("\n")) {
      if (/^\s/.test(line) && last !== "") {
        fields[last] = `${fields[last] ?? ""}\n${line.trim()}`;
        continue;
      }
      const colon = line.indexOf(":");
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields[last] = line.slice(colon + 1).trim();
    }
    if (fields["Package"] !== undefined) stanzas.push(fields);
  }
  return stanzas;
}

export class DpkgReader implements PackageCatalogueReader {
  readonly ecosystem = "deb";

  async present(root: string): Promise<boolean> {
    return (await lstat(join(root, "var/lib/dpkg/status")).catch(() => undefined))?.isFile() ?? false;
  }

  async read(root: string, os: OsRelease): Promise<RawPackage[]> {
    const status = await readFile(join(root, "var/lib/dpkg/status"), "utf8");
    const packages: RawPackage[] = [];
    for (const s of parseStanzas(status)) {
      if (s["Status"] !== "install ok installed") continue;
      const name = s["Package"]!;
      const version = s["Version"] ?? "";
      const arch = s["Architecture"] ?? "";
      const source = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(s["Source"] ?? "");
      const list =
        (await readFile(join(root, "var/lib/dpkg/info", `${name}:${arch}.list`), "utf8").catch(() => undefined)) ??
        (await readFile(join(root, "var/lib/dpkg/info", `${name}.list`), "utf8").catch(() => ""));
      const files: string[] = [];
      for (const path of list.split("\n")) {
        if (path === "" || path === "/.") continue;
        // Directories are omitted, including merged-/usr links such as /bin -> usr/bin that dpkg
        // lists as the package's: opening a directory is no use of a package.
        const resolved = await resolveInRoot(root, path);
        const st = resolved === undefined ? undefined : await stat(join(root, resolved)).catch(() => undefined);
        if (st?.isDirectory()) continue;
        files.push(path);
      }
      const qualifiers: Record<string, string> = { arch };
      if (os.id !== "") qualifiers["distro"] = `${os.id}-${os.versionId}`;
      const purl = new PackageURL("deb", os.id === "" ? "debian" : os.id, name, version, qualifiers, undefined).toString();
      packages.push({
        name,
        version,
        architecture: arch,
        type: "deb",
        purl,
        sourceName: source?.[1] ?? name,
        sourceVersion: source?.[2] ?? version,
        files,
      });
    }
    return packages;
  }
}
