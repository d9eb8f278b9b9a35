/** Image intake: verified, safe unpacking of a stranger's image. */
export { prepareImage, DEFAULT_MAX_UNPACKED_BYTES, type PrepareImageOptions, type PreparedImage } from "./prepare-image.js";
export { readLayoutImage, type ImageConfig, type Descriptor } from "./oci-layout.js";
export { extractLayer, safeRelativePath, linkStaysInside, type ExtractBudget } from "./safe-layer-extract.js";
export * from "./image-errors.js";
