/**
 * The document-format seam: one writer per VEX format. OpenVEX v0.2.0 is the one registered
 * now; CycloneDX VEX arrives as another implementation of this interface, registered in
 * writer-registry.ts once it is written.
 */
import type { Verdict } from "@vexxy/proto";
import type { StatementGroup } from "./statement-groups.js";

/** The VEX formats the mesh knows of; only those with a registered writer can be produced. */
export type VexFormat = "openvex" | "cyclonedx";

/** What every writer gets: the product, its verdicts and who states them. */
export interface VexInput {
  /** The document's IRI (OpenVEX @id, CycloneDX serialNumber source). */
  readonly documentId: string;
  readonly author: string;
  readonly timestamp: Date;
  /** The pkg:oci/... purls of the analysed image (product-identity.ts), each written as a product. */
  readonly products: readonly string[];
  readonly verdicts: readonly Verdict[];
  /** How the document was produced (OpenVEX `tooling`). */
  readonly tooling: string;
  /**
   * `groupVerdicts(verdicts)`, when the caller has it: produceVex groups once for every format
   * (~0.3 s for 20,000 verdicts). Absent: each writer groups the verdicts itself.
   */
  readonly groups?: readonly StatementGroup[];
}

/** A written, validated document. */
export interface WrittenVex {
  readonly format: VexFormat;
  /** The document as a JSON value (validated). */
  readonly document: Record<string, unknown>;
  /** Its serialisation (what gets stored; the signed statement embeds `document`). */
  readonly json: string;
  /** For each statement, in order, the verdicts (scan findings) it answers. */
  readonly statementVerdicts: readonly (readonly Verdict[])[];
}

/** One VEX format's writer. */
export interface VexWriter {
  readonly format: VexFormat;
  /** Writes and validates a document. @throws InvalidVexDocumentError when it would be invalid. */
  write(input: VexInput): WrittenVex;
}
