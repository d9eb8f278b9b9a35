/**
 * What the CycloneDX VEX and the runtime SBOM share: the serial number, the metadata (the image
 * as metadata.component, the tool, the author), a component per scanned package, and the
 * serialisation through @cyclonedx/cyclonedx-library's spec-1.6 JSON normalizer followed by
 * this service's validation.
 */
import { createHash } from "node:crypto";
import { Enums, Models, Serialize, Spec } from "@cyclonedx/cyclonedx-library";
import type { Verdict } from "@vexxy/proto";
import { parsePurl } from "../conformance/purl.js";
import { InvalidVexDocumentError } from "../errors.js";
import { cycloneDxProblems } from "./cyclonedx-validator.js";
import type { VexInput } from "./vex-writer.js";

/** Prefix of this service's CycloneDX property names (the taxonomy's rule: a namespace of one's own). */
export const PROPERTY_PREFIX = "vexxy:";

// RFC 4122 URL namespace: the serial number is a name-based UUID of the document id.
const URL_NAMESPACE = Buffer.from("6ba7b8119dad11d180b400c04fd430c8", "hex");

/**
 * A name-based (version 5) UUID URN of `name`: the same document id always gives the same
 * serial number, so a redone job attempt overwrites its own document. Never throws.
 */
export function serialNumberOf(name: string): string {
  const hash = createHash("sha1").update(URL_NAMESPACE).update(name, "utf8").digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** The problems with the input that no CycloneDX document of ours may be written from. */
export function productProblems(input: VexInput): string[] {
  const problems: string[] = [];
  const product = input.products[0];
  if (product === undefined) problems.push("/metadata/component the image has no product identifier");
  else if (parsePurl(product)?.type !== "oci") problems.push(`/metadata/component/purl ${JSON.stringify(product)} is not a pkg:oci purl`);
  return problems;
}

/**
 * A BOM with the serial number, timestamp, tool, author and the image as metadata.component
 * (type container, the qualifier-free `pkg:oci/...@sha256:...` purl, the other product purls as
 * `vexxy:product-purl` properties), with the lifecycle phase given.
 */
export function newBom(input: VexInput, serialNumber: string, phase: Enums.LifecyclePhase): Models.Bom {
  const bom = new Models.Bom({ serialNumber, version: 1 });
  bom.metadata.timestamp = input.timestamp;
  bom.metadata.lifecycles.add(phase);
  bom.metadata.tools.components.add(new Models.Component(Enums.ComponentType.Application, input.tooling, { bomRef: `${PROPERTY_PREFIX}tool` }));
  bom.metadata.authors.add(new Models.OrganizationalContact({ name: input.author }));
  const purl = input.products[0] ?? "";
  const parsed = parsePurl(purl);
  const image = new Models.Component(Enums.ComponentType.Container, parsed?.name ?? "image", {
    bomRef: purl,
    purl,
    ...(parsed?.version !== undefined && parsed.version !== "" ? { version: parsed.version } : {}),
  });
  for (const other of input.products.slice(1)) image.properties.add(new Models.Property(`${PROPERTY_PREFIX}product-purl`, other));
  bom.metadata.component = image;
  return bom;
}

/** A library component for a scanned package: its bom-ref and purl are the scan's own purl. */
export function packageComponent(purl: string, verdict: Verdict): Models.Component {
  const parsed = parsePurl(purl);
  const name = verdict.packageName !== "" ? verdict.packageName : (parsed?.name ?? purl);
  const version = verdict.packageVersion !== "" ? verdict.packageVersion : (parsed?.version ?? "");
  const component = new Models.Component(Enums.ComponentType.Library, name, {
    bomRef: purl,
    ...(parsed !== undefined ? { purl } : {}),
    ...(version !== "" ? { version } : {}),
  });
  if (verdict.packageType !== "") component.properties.add(new Models.Property(`${PROPERTY_PREFIX}package-type`, verdict.packageType));
  return component;
}

/**
 * The library's JSON serializer stopped before its JSON.stringify: `serialize` runs the
 * normaliser (bom-ref discrimination included) and hands the normalised tree to `_serialize`,
 * the library's own hook, which keeps it instead of writing text that would be parsed again.
 */
class NormalisedBom extends Serialize.JsonSerializer {
  #tree: unknown;

  protected override _serialize(normalised: Serialize.JSON.Types.Normalized.Bom): string {
    this.#tree = normalised;
    return "";
  }

  /** The normalised BOM as the library would have written it (see plainJson). */
  normalise(bom: Models.Bom): Record<string, unknown> {
    this.serialize(bom, { sortLists: false });
    const tree = this.#tree;
    this.#tree = undefined;
    return plainJson(tree) as Record<string, unknown>;
  }
}

/** A tree plainJson cannot copy as JSON.stringify would write it (then the text round trip is taken). */
class NotPlainJson extends Error {}

function copy(value: unknown): unknown {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number") return Number.isFinite(value) ? value + 0 : null;
  if (value === undefined || typeof value === "function" || typeof value === "symbol") return undefined;
  if (Array.isArray(value)) return value.map((item) => copy(item) ?? null);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype && typeof (value as { toJSON?: unknown }).toJSON !== "function") {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = copy((value as Record<string, unknown>)[key]);
      if (item === undefined) continue;
      if (key === "__proto__") Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true });
      else out[key] = item;
    }
    return out;
  }
  throw new NotPlainJson();
}

/**
 * `JSON.parse(JSON.stringify(tree))` without the text: the normaliser's output is plain objects,
 * arrays and scalars, many keys set to undefined (left out, as JSON.stringify leaves them out).
 * Anything else (a class instance, a toJSON) takes the text round trip itself.
 * @throws what JSON.stringify throws (a BigInt, a cycle).
 */
export function plainJson(tree: unknown): unknown {
  try {
    return copy(tree);
  } catch (error) {
    if (!(error instanceof NotPlainJson)) throw error;
    return JSON.parse(JSON.stringify(tree)) as unknown;
  }
}

const serializer = new NormalisedBom(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));

/**
 * The BOM as a JSON value (library-normalised for spec 1.6), after `finish` adds what the
 * library's model lacks, validated.
 * @throws InvalidVexDocumentError when the document fails the schema or the reference rules.
 */
export function serialiseBom(bom: Models.Bom, finish: (doc: Record<string, unknown>) => void = () => {}): { document: Record<string, unknown>; json: string } {
  const document = serializer.normalise(bom);
  // Every component gets an empty dependency entry from the library; the VEX and the runtime SBOM
  // state no dependency graph, and an empty one would claim "no dependencies".
  delete document["dependencies"];
  finish(document);
  const problems = cycloneDxProblems(document);
  if (problems.length > 0) throw new InvalidVexDocumentError(problems);
  return { document, json: `${JSON.stringify(document, null, 2)}\n` };
}
