/**
 * The registered VEX writers, by format: OpenVEX v0.2.0 and CycloneDX 1.6 VEX. Asking for a
 * format without a writer is an error, never an empty document.
 */
import type { VexFormat, VexWriter } from "./vex-writer.js";
import { OpenVexWriter } from "./openvex-writer.js";
import { CycloneDxVexWriter } from "./cyclonedx-writer.js";
import { UnsupportedVexFormatError } from "../errors.js";

const WRITERS: ReadonlyMap<VexFormat, VexWriter> = new Map<VexFormat, VexWriter>([
  ["openvex", new OpenVexWriter()],
  ["cyclonedx", new CycloneDxVexWriter()],
]);

/** The formats that can be written now. */
export function supportedVexFormats(): VexFormat[] {
  return [...WRITERS.keys()];
}

/**
 * The writer of a format.
 * @throws UnsupportedVexFormatError when no writer is registered for it.
 */
export function vexWriter(format: string): VexWriter {
  const writer = WRITERS.get(format as VexFormat);
  if (writer === undefined) throw new UnsupportedVexFormatError(format);
  return writer;
}
