/**
 * The registered VEX writers, by format. Only finished writers are registered: asking for a
 * format without one (CycloneDX VEX, for now) is an error, never an empty document.
 */
import type { VexFormat, VexWriter } from "./vex-writer.js";
import { OpenVexWriter } from "./openvex-writer.js";
import { UnsupportedVexFormatError } from "../errors.js";

const WRITERS: ReadonlyMap<VexFormat, VexWriter> = new Map<VexFormat, VexWriter>([["openvex", new OpenVexWriter()]]);

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
