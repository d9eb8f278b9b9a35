/** Mounts the orchestrator's RPC handlers on a router. */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { AnalysisService } from "@vexxy/proto";

/** The routes of the orchestrator: the public AnalysisService. */
export function routes(handlers: ServiceImpl<typeof AnalysisService>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(AnalysisService, handlers);
  };
}
