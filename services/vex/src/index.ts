/** @vexxy/vex: VEX writers, DSSE/Sigstore signing and the VexService. */
export { startVexService, type RunningVex, type VexOverrides } from "./service.js";
export { readVexConfig, type VexConfig } from "./config.js";
export { OpenVexWriter, OPENVEX_CONTEXT } from "./writers/openvex-writer.js";
export type { VexWriter, VexInput, WrittenVex } from "./writers/vex-writer.js";
export { openVexProblems } from "./writers/openvex-validator.js";
export { productIdentity, type ProductIdentity } from "./product-identity.js";
export { produceVex, documentIdOf, type ProducedVex, type VexSettings } from "./produce-vex.js";
export { pae, signStatement, verifyEnvelope, openVexStatement, OPENVEX_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE } from "./signing/dsse.js";
export { toSigstoreBundle, verifySigstoreBundle, BUNDLE_MEDIA_TYPE } from "./signing/sigstore-bundle.js";
export { loadSigningKey, keyHint, type SigningKey } from "./signing/signing-key.js";
export { InvalidVexDocumentError } from "./errors.js";
