/** @vexxy/vex: VEX writers, DSSE/Sigstore signing and verification, and the VexService. */
export * from "./lib.js";
export { startVexService, VEX_TOOLING, type RunningVex, type VexOverrides } from "./service.js";
export { readVexConfig, type VexConfig } from "./config.js";
