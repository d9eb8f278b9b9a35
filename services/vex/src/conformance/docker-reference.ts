/**
 * Docker image references read the way go-containerregistry's name.ParseReference reads them
 * (Grype and Trivy both use it): a first component holding '.' or ':' or equal to `localhost` is
 * the registry, otherwise the registry is Docker Hub (`index.docker.io`) and a one-component
 * repository gets `library/`; a ':' after the last '/' starts the tag, '@' the digest.
 */

/** A parsed reference. */
export interface DockerReference {
  /** `index.docker.io` for Docker Hub (`docker.io` is rewritten to it, as go-containerregistry does). */
  readonly registry: string;
  /** Repository path inside the registry, lowercase (`library/debian`, `team/app`). */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** Parses `[registry/]repository[:tag][@digest]`; undefined when it is not a valid reference. */
export function parseDockerReference(text: string): DockerReference | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const at = trimmed.indexOf("@");
  const digest = at >= 0 ? trimmed.slice(at + 1) : undefined;
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) return undefined;
  let named = at >= 0 ? trimmed.slice(0, at) : trimmed;
  let tag: string | undefined;
  const colon = named.lastIndexOf(":");
  if (colon > named.lastIndexOf("/")) {
    tag = named.slice(colon + 1);
    named = named.slice(0, colon);
    if (!/^[\w][\w.-]{0,127}$/.test(tag)) return undefined;
  }
  const parts = named.split("/");
  const first = parts[0] ?? "";
  let registry = "index.docker.io";
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    registry = first.toLowerCase() === "docker.io" ? "index.docker.io" : first.toLowerCase();
    parts.shift();
  }
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) return undefined;
  if (registry === "index.docker.io" && parts.length === 1) parts.unshift("library");
  return { registry, repository: parts.join("/"), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** The repository's last path component (the purl name both scanners use for an image). */
export function repositoryName(ref: DockerReference): string {
  return ref.repository.split("/").at(-1) ?? ref.repository;
}
