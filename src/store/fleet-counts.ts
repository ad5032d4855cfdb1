import type { Knex } from 'knex';
import { AWS_THING_ROWS, AZURE_ROWS, ownedCondition, type OwnerScope } from './owners.js';

export type FleetProvider = 'azure' | 'aws';

/** What the portal database holds of one provider's fleet. */
export interface StoredFleet {
  readonly devices: number;
  readonly connectedDevices: number;
  readonly edgeDevices: number;
  readonly connectedEdgeDevices: number;
}

const SCOPE: Record<FleetProvider, OwnerScope> = { azure: AZURE_ROWS, aws: AWS_THING_ROWS };

/**
 * The provider's devices and edge devices as the portal database holds them: the rows of that
 * provider's own commands only (the owner mark), two aggregate queries, no row read.
 */
export async function storedFleet(db: Knex, provider: FleetProvider): Promise<StoredFleet> {
  const scope = SCOPE[provider];
  const [devices] = await db('devices')
    .whereRaw(ownedCondition(scope, 'devices'))
    .select(db.raw('COUNT(*) AS total'), db.raw('SUM(CASE WHEN is_connected THEN 1 ELSE 0 END) AS connected'));
  const [edge] = await db('edge_devices')
    .whereRaw(ownedCondition(scope, 'edge_devices'))
    .select(db.raw('COUNT(*) AS total'), db.raw("SUM(CASE WHEN connection_state = 'Connected' THEN 1 ELSE 0 END) AS connected"));
  return {
    devices: count(devices?.total),
    connectedDevices: count(devices?.connected),
    edgeDevices: count(edge?.total),
    connectedEdgeDevices: count(edge?.connected),
  };
}

/** LoRaWAN concentrators in the portal database (only the Azure commands write them). */
export async function storedConcentrators(db: Knex): Promise<number> {
  const [row] = await db('concentrators').count({ total: '*' });
  return count(row?.total);
}

/** An aggregate as a number: PostgreSQL returns COUNT and SUM as strings, SUM of no rows as NULL. */
function count(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`unexpected count from the database: ${String(value)}`);
  return n;
}
