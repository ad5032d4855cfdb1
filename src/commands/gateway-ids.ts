import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { IotHubConfig } from '../config.js';
import { ApiCallCounter } from '../providers/errors.js';
import type { RemoteEntry } from '../reconcile/index.js';
import type { AfterCommitContext, Inventory, RemoteContext } from '../run/inventory.js';
import { applyGatewayIdsPlan, GATEWAY_VERSION, gatewayIdProblem, listGatewayIds, loadGatewayIds } from '../store/gateways.js';
import { iothubClient } from './iothub-source.js';
import { ensureDir } from '../store/ensure-dir.js';

export const GATEWAY_MODULE = 'LoRaWanNetworkSrvModule';
export const GATEWAY_IDS_QUERY = `SELECT deviceId FROM devices.modules WHERE moduleId = '${GATEWAY_MODULE}'`;

/** Every page of the network server module query; the set replaces `lora_gateway_ids`. */
export function gatewayIdsInventory(iothub: IotHubConfig, out: string | null): Inventory {
  const calls = new ApiCallCounter();
  return {
    command: 'gateway-ids',
    noun: 'gateway id',
    calls,
    policy: { liveFields: [], secretFields: [] },
    async *remote({ log }: RemoteContext): AsyncIterable<RemoteEntry[]> {
      for await (const page of iothubClient(iothub, calls, log).queryPages(GATEWAY_IDS_QUERY)) {
        yield page.map(mapGatewayRow);
      }
    },
    validate: gatewayIdProblem,
    loadCurrent: loadGatewayIds,
    apply: applyGatewayIdsPlan,
    afterCommit: out === null ? undefined : (ctx) => writeGatewayFile(out, ctx),
  };
}

export function mapGatewayRow(raw: unknown): RemoteEntry {
  const id = (raw as { deviceId?: unknown } | null)?.deviceId;
  if (typeof id !== 'string' || id === '') return { kind: 'skipped', key: '(no deviceId)', reason: 'malformed row: no deviceId', keyless: true };
  return { kind: 'desired', key: id, version: GATEWAY_VERSION, fields: {} };
}

/**
 * Writes the stored set as a sorted JSON array, atomically (temp file + rename), so the LoRaWAN
 * router never reads half a file. Not written after an incomplete listing: the old file stays.
 */
async function writeGatewayFile(path: string, ctx: AfterCommitContext): Promise<string | null> {
  if (!ctx.listingComplete) return `${path} not written: the listing did not complete`;
  const ids = await listGatewayIds(ctx.db);
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    ensureDir(dirname(path));
    writeFileSync(temp, JSON.stringify(ids, null, 2) + '\n');
    renameSync(temp, path);
    ctx.log.info(`wrote ${ids.length} gateway ids to ${path}`);
    return null;
  } catch (error) {
    rmSync(temp, { force: true });
    return `cannot write ${path}: ${(error as Error).message}`;
  }
}
