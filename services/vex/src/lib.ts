/**
 * The VEX service's building blocks without its wiring: writers, product identity, signing and
 * verification. Imports no event bus, ledger or server, so tools and tests can use it alone.
 */
export { OpenVexWriter, OPENVEX_CONTEXT, OPENVEX_ROLE } from "./writers/openvex-writer.js";
export type { VexFormat, VexWriter, VexInput, WrittenVex } from "./writers/vex-writer.js";
export { vexWriter, supportedVexFormats } from "./writers/writer-registry.js";
export { openVexProblems } from "./writers/openvex-validator.js";
export { subcomponentPurl } from "./writers/subcomponent-purl.js";
export { productIdentity, type ProductIdentity } from "./product-identity.js";
export { produceVex, documentIdOf, type ProducedVex, type VexSettings } from "./produce-vex.js";
export {
  pae,
  signStatement,
  verifyEnvelope,
  openVexStatement,
  OPENVEX_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  IN_TOTO_STATEMENT_TYPE,
  type DsseEnvelope,
  type InTotoStatement,
} from "./signing/dsse.js";
export { toSigstoreBundle, serialiseBundle, BUNDLE_MEDIA_TYPE, type SigstoreBundleJson } from "./signing/sigstore-bundle.js";
export { verifyBundle } from "./signing/verify-bundle.js";
export { loadSigningKey, signingKeyFrom, keyHint, GENERATED_KEY_FILE, type SigningKey } from "./signing/signing-key.js";
export { vexKeys, VEX_STAGE } from "./store/vex-keys.js";
export {
  BundleVerificationError,
  InvalidVexDocumentError,
  ProductIdentityError,
  SigningKeyError,
  UnsupportedVexFormatError,
  VexNotReadyError,
} from "./errors.js";
