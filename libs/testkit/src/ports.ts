/** Free loopback ports for tests: the product's helper, from @vexxy/local-servers. */
export { freePort } from "@vexxy/local-servers";
