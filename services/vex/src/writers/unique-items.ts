/**
 * The JSON schemas' `uniqueItems` for our long lists (OpenVEX statements, CycloneDX components
 * and vulnerabilities), checked here instead of by ajv, with the same rule: an item deep-equal to
 * an earlier one, whatever the key order of its objects, is a duplicate.
 *
 * ajv compares every pair (quadratic); canonicalising every item and keying a map by it is
 * linear but built a second full-size copy of each document as strings (~1.7 s for the issue 9
 * bench). Items are first put into buckets by a small part of them (the `bom-ref`, the
 * vulnerability, the status): deep-equal items always land in one bucket, since the part is
 * read from the item and canonicalised. Only items that share a bucket are canonicalised in full
 * and compared, so nothing is missed; a bucket key only decides what needs the full comparison.
 */

/** A path into an item: object keys and array positions. */
export type ItemPath = readonly (string | number)[];

/** JSON with object keys sorted: equal for deep-equal JSON values, whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function at(item: unknown, path: ItemPath): unknown {
  let node = item;
  for (const step of path) {
    if (typeof node !== "object" || node === null) return undefined;
    if (Array.isArray(node) !== (typeof step === "number")) return undefined;
    node = (node as Record<string | number, unknown>)[step];
  }
  return node;
}

/**
 * The bucket of an item: the canonical JSON of the value at each path (a missing value reads as
 * `undefined`). A function of the item's content only, so deep-equal items share it. An item that
 * is not an object (schema-invalid in our lists) is its own canonical form.
 */
function bucketOf(item: unknown, paths: readonly ItemPath[]): string {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return `=${canonicalJson(item)}`;
  let key = "";
  for (const path of paths) {
    const value = at(item, path);
    key += value === undefined ? "\u0000" : `${canonicalJson(value)}\u0000`;
  }
  return key;
}

/**
 * The schema's uniqueItems for one list: a problem for each item deep-equal to an earlier one,
 * in list order, worded as ajv words it (`<pointer> must NOT have duplicate items (items ## i
 * and j are identical)`, i the first occurrence). `bucketPaths` name the parts items are
 * bucketed by (see the module's paragraph): they change the time taken, never the answer.
 * Never throws.
 */
export function duplicateItems(list: readonly unknown[], pointer: string, bucketPaths: readonly ItemPath[]): string[] {
  const problems: string[] = [];
  // Per bucket: the first item's index until a second arrives, then the items' canonical forms.
  const buckets = new Map<string, number | Map<string, number>>();
  const canonical = (i: number): string => canonicalJson(list[i]);
  list.forEach((item, i) => {
    const key = bucketOf(item, bucketPaths);
    const bucket = buckets.get(key);
    if (bucket === undefined) {
      buckets.set(key, i);
      return;
    }
    let seen: Map<string, number>;
    if (typeof bucket === "number") {
      seen = new Map([[canonical(bucket), bucket]]);
      buckets.set(key, seen);
    } else seen = bucket;
    const form = canonical(i);
    const first = seen.get(form);
    if (first === undefined) seen.set(form, i);
    else problems.push(`${pointer} must NOT have duplicate items (items ## ${first} and ${i} are identical)`);
  });
  return problems;
}
