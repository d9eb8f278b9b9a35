/** Opens the orchestrator's schema with its entities and runs its committed migrations. */
import type { MikroORM } from "@mikro-orm/postgresql";
import { openOrm } from "@vexxy/ledger";
import { ORCHESTRATOR_ENTITIES } from "./entities.js";
import { Migration20261122230000 } from "./migrations/Migration20261122230000.js";
import { Migration20261202123000 } from "./migrations/Migration20261202123000.js";
import { Migration20261202160000 } from "./migrations/Migration20261202160000.js";
import { Migration20261202161000 } from "./migrations/Migration20261202161000.js";
import { Migration20261202163000 } from "./migrations/Migration20261202163000.js";

export const ORCHESTRATOR_SCHEMA = "orchestrator";

/** Connects, creates the schema if absent and applies pending migrations. */
export async function openOrchestratorOrm(databaseUrl: string): Promise<MikroORM> {
  return await openOrm({
    databaseUrl,
    schema: ORCHESTRATOR_SCHEMA,
    entities: [...ORCHESTRATOR_ENTITIES],
    migrations: [
      { name: "Migration20261122230000", class: Migration20261122230000 },
      { name: "Migration20261202123000", class: Migration20261202123000 },
      { name: "Migration20261202160000", class: Migration20261202160000 },
      { name: "Migration20261202161000", class: Migration20261202161000 },
      { name: "Migration20261202163000", class: Migration20261202163000 },
    ],
  });
}
