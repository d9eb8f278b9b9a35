/** nats-server with JetStream for tests: the product's runner, from @vexxy/local-servers. */
export { NatsServerStartError, startNatsServer, type NatsServer } from "@vexxy/local-servers";
