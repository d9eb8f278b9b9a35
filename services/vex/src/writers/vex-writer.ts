/**
 * The document-format seam: one writer per VEX format. OpenVEX v0.2.0 is the one registered
 * now; CycloneDX VEX arrives as another implementation of this interface.
 */
import type { Verdict } from "@vexxy/proto";

/** What every writer gets: the product, its verdicts and who states them. */
export interface VexInput {
  readonly documentId: string;
  readonly author: string;
  readonly timestamp: Date;
  /** pkg:oci/... purl of the analysed image. */
  readonly productPurl: string;
  readonly verdicts: readonly Verdict[];
  readonly tooling: string;
}

export interface WrittenVex {
  readonly format: string;
  /** The document as a JSON value (validated). */
  readonly document: Record<string, unknown>;
  /** Its canonical serialisation (what gets stored and signed). */
  readonly json: string;
}

export interface VexWriter {
  readonly format: string;
  /** Writes and validates a document. @throws InvalidVexDocumentError when it would be invalid. */
  write(input: VexInput): WrittenVex;
}
