/** Mounts the profiler's RPC handlers. */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { ProfilerService } from "@vexxy/proto";

/** The routes of the profiler. */
export function routes(handlers: ServiceImpl<typeof ProfilerService>): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ProfilerService, handlers);
  };
}
