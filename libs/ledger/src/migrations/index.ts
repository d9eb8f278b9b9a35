/** The ledger's migrations, in order; openStageLedger runs the pending ones at open. */
import type { MigrationObject } from "@mikro-orm/core";
import { Migration20261122220000 } from "./Migration20261122220000.js";

export const stageLedgerMigrations: readonly MigrationObject[] = [{ name: "Migration20261122220000", class: Migration20261122220000 }];
