/** @vexxy/deploy-local: the embedded stack launcher, the CLI's analysis flow and the demo image. */
export { startEmbeddedStack, REPO_ROOT, type EmbeddedStack, type EmbeddedStackOptions } from "./embedded-stack.js";
export { SERVICE_NAMES, type ServiceName } from "./service-process.js";
export { analyze, orchestratorClient, AnalysisEndedError, type AnalyzeOutcome } from "./analyze.js";
export { resolveImageInput, type ImageInput } from "./image-input.js";
export { buildDemoImage, DEMO_DIR, DEMO_CACHE, type DemoImage } from "./demo-image.js";
export { renderVerdictTable } from "./verdict-table.js";
export { DEMO_IMAGE_NAME } from "./commands.js";
