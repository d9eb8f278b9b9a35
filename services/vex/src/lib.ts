/**
 * The VEX service's building blocks without its wiring: writers, product identity, signing and
 * verification. Imports no event bus, ledger or server, so tools and tests can use it alone.
 */
export { OpenVexWriter, OPENVEX_CONTEXT, OPENVEX_ROLE } from "./writers/openvex-writer.js";
export type { VexFormat, VexWriter, VexInput, WrittenVex } from "./writers/vex-writer.js";
export { vexWriter, supportedVexFormats } from "./writers/writer-registry.js";
export { openVexProblems } from "./writers/openvex-validator.js";
export { CycloneDxVexWriter, CYCLONEDX_STATE, CYCLONEDX_JUSTIFICATION, cycloneDxVexSerial } from "./writers/cyclonedx-writer.js";
export { writeRuntimeSbom, runtimeSbomSerial, OCCURRENCES_MAX, USE_EVIDENCE_KINDS, type RuntimeSbom } from "./writers/cyclonedx-runtime-sbom.js";
export { cycloneDxProblems } from "./writers/cyclonedx-validator.js";
export { subcomponentPurl } from "./writers/subcomponent-purl.js";
export { productIdentity, type ProductIdentity, type ImageNaming } from "./product-identity.js";
export { groupVerdicts, type StatementGroup } from "./writers/statement-groups.js";
export { parsePurl, purlMatches, formatPurl, type ParsedPurl } from "./conformance/purl.js";
export { parseDockerReference, type DockerReference } from "./conformance/docker-reference.js";
export {
  documentMatches,
  statementMatches,
  componentMatches,
  type VexDocument,
  type VexStatement,
  type VexComponent,
  type IndexedStatement,
} from "./conformance/go-vex-match.js";
export { grypeProducts, grypeDecision, trivyImagePurl, trivyDecision, type GrypeSource, type ToolFinding, type ToolDecision } from "./conformance/scanners.js";
export {
  checkConformance,
  requireApplicable,
  registryScanContext,
  localScanContext,
  toolPurls,
  trivyVulnerabilityId,
  type ConformanceReport,
  type ScanContext,
  type StatementConformance,
} from "./conformance/self-check.js";
export { produceVex, documentIdOf, vexFormatsOf, type ProducedVex, type ProducedDocument, type VexSettings } from "./produce-vex.js";
export {
  pae,
  signStatement,
  signDocument,
  verifyEnvelope,
  openVexStatement,
  cycloneDxStatement,
  OPENVEX_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  type DsseEnvelope,
  type InTotoStatement,
} from "./signing/dsse.js";
export { toSigstoreBundle, serialiseBundle, BUNDLE_MEDIA_TYPE, type SigstoreBundleJson } from "./signing/sigstore-bundle.js";
export { verifyBundle } from "./signing/verify-bundle.js";
export { loadSigningKey, signingKeyFrom, keyHint, GENERATED_KEY_FILE, type SigningKey } from "./signing/signing-key.js";
export {
  loadKeyRing,
  rotateKeyRing,
  singleKeyRing,
  keyFingerprint,
  verificationKey,
  KEYS_DIR,
  ACTIVE_KEY_FILE,
  type KeyRing,
  type VerificationKey,
  type RotationResult,
} from "./signing/key-ring.js";
export {
  verifyVex,
  isImageDigest,
  CYCLONEDX_PREDICATE_TYPE,
  VEX_PREDICATE_TYPES,
  VERIFY_FAILURE_REASONS,
  type TrustedKey,
  type VerifyFailureReason,
  type VerifyVexOptions,
  type VexVerification,
} from "./signing/verify-vex.js";
export { vexKeys, vexDocumentKeys, VEX_STAGE } from "./store/vex-keys.js";
export {
  BundleVerificationError,
  InvalidVexDocumentError,
  ProductIdentityError,
  SigningKeyError,
  UnsupportedVexFormatError,
  VexNotApplicableError,
  VexNotReadyError,
} from "./errors.js";
