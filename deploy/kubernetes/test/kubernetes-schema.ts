/**
 * Validation of Kubernetes objects against the official OpenAPI v2 document of the API server
 * (schemas/kubernetes-1.36-swagger.json), the way kubeconform's strict mode does it: each
 * object is checked against the definition whose `x-kubernetes-group-version-kind` names its
 * apiVersion and kind, and an object schema that lists its properties rejects any other
 * (the swagger itself never says additionalProperties: false, so a misspelt field would pass).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";

/** The OpenAPI document's version, named in the schema file's name and in schemas/README.md. */
export const KUBERNETES_OPENAPI_VERSION = "1.36";

const SCHEMA_FILE = join(import.meta.dirname, "schemas", `kubernetes-${KUBERNETES_OPENAPI_VERSION}-swagger.json`);

type JsonSchema = { [key: string]: unknown };

interface GroupVersionKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

/** One problem found in one object: a JSON pointer into it and what is wrong there. */
export interface SchemaProblem {
  readonly path: string;
  readonly message: string;
}

/** No definition of the OpenAPI document serves this apiVersion and kind. */
export class UnknownKindError extends Error {
  constructor(apiVersion: string, kind: string) {
    super(`no Kubernetes ${KUBERNETES_OPENAPI_VERSION} definition for apiVersion ${apiVersion}, kind ${kind}`);
    this.name = "UnknownKindError";
  }
}

// The API server's own JSON decoding accepts these as numbers or strings, while the swagger
// says only "string" (kubeconform's schemas widen them the same way).
const NUMBER_OR_STRING = new Set(["io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity"]);

/** Adds additionalProperties: false to every object schema that lists its properties. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== "object") return schema;
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    // Property names are data here, not keywords: recurse into their schemas only.
    if (key === "properties" && value !== null && typeof value === "object") {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, strict(sub)]));
    } else {
      out[key] = strict(value);
    }
  }
  if (out["properties"] !== undefined && out["additionalProperties"] === undefined && out["x-kubernetes-preserve-unknown-fields"] !== true) {
    out["additionalProperties"] = false;
  }
  return out;
}

function apiVersionOf(gvk: GroupVersionKind): string {
  return gvk.group === "" ? gvk.version : `${gvk.group}/${gvk.version}`;
}

/** Validates objects against the official Kubernetes OpenAPI definitions, strictly. */
export class KubernetesSchema {
  readonly #ajv: Ajv;
  readonly #definitionByKind = new Map<string, string>();
  readonly #compiled = new Map<string, ValidateFunction>();

  /** Reads and prepares the OpenAPI document. @throws when the file is missing or not the expected document. */
  constructor(file: string = SCHEMA_FILE) {
    const document = JSON.parse(readFileSync(file, "utf8")) as { definitions?: Record<string, JsonSchema> };
    const definitions = document.definitions;
    if (definitions === undefined) throw new Error(`${file} has no definitions: not a Kubernetes OpenAPI v2 document`);
    const patched: Record<string, unknown> = {};
    for (const [name, definition] of Object.entries(definitions)) {
      patched[name] = NUMBER_OR_STRING.has(name) ? { ...definition, type: undefined, anyOf: [{ type: "string" }, { type: "number" }] } : strict(definition);
      const kinds = definition["x-kubernetes-group-version-kind"];
      if (Array.isArray(kinds)) for (const gvk of kinds as GroupVersionKind[]) this.#definitionByKind.set(`${apiVersionOf(gvk)} ${gvk.kind}`, name);
    }
    // strict: false because the document carries x-kubernetes-* keywords and formats (int-or-string,
    // int64, byte) that are not JSON Schema's; types, required fields and unknown fields are what count.
    this.#ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    this.#ajv.addSchema({ $id: "kubernetes", definitions: JSON.parse(JSON.stringify(patched)) as unknown });
  }

  /** Whether the document defines this apiVersion and kind. */
  knows(apiVersion: string, kind: string): boolean {
    return this.#definitionByKind.has(`${apiVersion} ${kind}`);
  }

  /**
   * The problems of one object (empty when it is valid).
   * @throws UnknownKindError when no definition serves its apiVersion and kind.
   */
  validate(object: Readonly<Record<string, unknown>>): SchemaProblem[] {
    const apiVersion = String(object["apiVersion"]);
    const kind = String(object["kind"]);
    const name = this.#definitionByKind.get(`${apiVersion} ${kind}`);
    if (name === undefined) throw new UnknownKindError(apiVersion, kind);
    let validateFn = this.#compiled.get(name);
    if (validateFn === undefined) {
      validateFn = this.#ajv.getSchema(`kubernetes#/definitions/${name}`);
      if (validateFn === undefined) throw new UnknownKindError(apiVersion, kind);
      this.#compiled.set(name, validateFn);
    }
    if (validateFn(object)) return [];
    return (validateFn.errors ?? []).map((e: ErrorObject) => ({ path: e.instancePath === "" ? "/" : e.instancePath, message: describe(e) }));
  }
}

function describe(error: ErrorObject): string {
  if (error.keyword === "additionalProperties") return `unknown field ${JSON.stringify((error.params as { additionalProperty: string }).additionalProperty)}`;
  return error.message ?? error.keyword;
}
