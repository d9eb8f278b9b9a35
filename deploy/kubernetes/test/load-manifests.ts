/**
 * Reads the manifests: every document of every YAML file of the kustomize base, in the order
 * kustomization.yaml lists them, and the Secrets' shapes from secrets.example.yaml.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";

/** deploy/kubernetes. */
export const KUBERNETES_DIR = join(import.meta.dirname, "..");
/** The kustomize base. */
export const BASE_DIR = join(KUBERNETES_DIR, "base");
/** The Secrets the base references, with placeholder values. */
export const SECRETS_EXAMPLE = join(KUBERNETES_DIR, "secrets.example.yaml");

/** A Kubernetes object as parsed, with the file it came from. */
export interface Manifest {
  readonly file: string;
  readonly object: Record<string, unknown>;
}

/**
 * Every document of a YAML file, parsed as kubectl parses (YAML 1.1: sigs.k8s.io/yaml reads
 * through go-yaml v2, where e.g. 0440 is octal and `on` is true).
 * @throws when the file does not parse or a document is not a mapping.
 */
export function readYamlDocuments(file: string): Record<string, unknown>[] {
  const text = readFileSync(file, "utf8");
  const objects: Record<string, unknown>[] = [];
  for (const document of parseAllDocuments(text, { version: "1.1" })) {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = document.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${file}: a document is not a mapping`);
    objects.push(value as Record<string, unknown>);
  }
  return objects;
}

/** The files kustomization.yaml lists as resources. @throws when it lists none. */
export function kustomizationResources(): string[] {
  const [kustomization] = readYamlDocuments(join(BASE_DIR, "kustomization.yaml"));
  const resources = kustomization?.["resources"];
  if (!Array.isArray(resources) || resources.length === 0) throw new Error("kustomization.yaml lists no resources");
  return resources.map(String);
}

/** The YAML files in the base other than kustomization.yaml, sorted. */
export function baseYamlFiles(): string[] {
  return readdirSync(BASE_DIR)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .sort();
}

/** Every object the base applies, in kustomization order. */
export function baseManifests(): Manifest[] {
  return kustomizationResources().flatMap((file) => readYamlDocuments(join(BASE_DIR, file)).map((object) => ({ file, object })));
}

/** The example Secrets. */
export function exampleSecrets(): Manifest[] {
  return readYamlDocuments(SECRETS_EXAMPLE).map((object) => ({ file: "secrets.example.yaml", object }));
}
