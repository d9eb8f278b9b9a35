/** Temporary directories for tests: the product's helper, from @vexxy/local-servers. */
export { tempDir, type TempDir } from "@vexxy/local-servers";
