/**
 * Small readers for untrusted JSON: each returns the typed value or throws ScanFormatError
 * naming the field, so parsers never cast.
 */
import { ScanFormatError } from "./errors.js";

/** Whether value is a plain JSON object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The object at field.
 * @throws ScanFormatError when it is missing or not an object.
 */
export function requireObject(value: unknown, field: string): Record<string, unknown> {
  if (!isObject(value)) throw new ScanFormatError(field, `must be an object (got ${describe(value)})`);
  return value;
}

/**
 * The array at field.
 * @throws ScanFormatError when it is missing or not an array.
 */
export function requireArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new ScanFormatError(field, `must be an array (got ${describe(value)})`);
  return value;
}

/**
 * The non-empty string at field.
 * @throws ScanFormatError when it is missing, not a string, or blank.
 */
export function requireString(value: unknown, field: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ScanFormatError(field, `must be a non-empty string (got ${describe(value)})`);
  }
  return value.trim();
}

/**
 * The string at field, "" when absent or null.
 * @throws ScanFormatError when present with another type.
 */
export function optionalString(value: unknown, field: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new ScanFormatError(field, `must be a string (got ${describe(value)})`);
  return value.trim();
}

/**
 * The array at field, [] when absent or null.
 * @throws ScanFormatError when present with another type.
 */
export function optionalArray(value: unknown, field: string): unknown[] {
  if (value === undefined || value === null) return [];
  return requireArray(value, field);
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "string" ? `"${value.slice(0, 40)}"` : typeof value;
}
