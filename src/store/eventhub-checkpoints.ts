import { randomUUID } from 'node:crypto';
import type { Checkpoint, CheckpointStore, PartitionOwnership } from '@azure/event-hubs';
import type { Knex } from 'knex';

/** Which hub and consumer group a checkpoint or an ownership belongs to. */
export interface HubScope {
  readonly namespace: string;
  readonly hub: string;
  readonly consumerGroup: string;
}

/** A partition this run could not claim: another reader holds it. */
export interface RefusedClaim {
  readonly partitionId: string;
  readonly ownerId: string;
}

const scopeWhere = (s: HubScope) => ({ namespace: s.namespace, hub: s.hub, consumer_group: s.consumerGroup });

/**
 * The SDK's CheckpointStore over the portal database. Two departures from the blob store, both so
 * that two runs never read one partition at once:
 *  - a claim never takes a partition another owner renewed within `expiryMs` (the SDK's load
 *    balancers steal from owners with more than their share; a scheduled drain must not);
 *  - checkpoints are written by the telemetry writer in the transaction of the rows they cover
 *    (`updateCheckpoint` exists for the interface, and for callers that store nothing).
 */
export class PortalCheckpointStore implements CheckpointStore {
  private readonly refusedClaims = new Map<string, RefusedClaim>();

  constructor(
    private readonly db: Knex,
    private readonly expiryMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Partitions whose latest claim was refused because another live owner holds them. */
  refused(): RefusedClaim[] {
    return [...this.refusedClaims.values()];
  }

  async listOwnership(namespace: string, hub: string, consumerGroup: string): Promise<PartitionOwnership[]> {
    const rows = await this.db('eventhub_ownership').where(scopeWhere({ namespace, hub, consumerGroup })).select<OwnershipRow[]>('*');
    return rows.map(toOwnership);
  }

  async claimOwnership(claims: PartitionOwnership[]): Promise<PartitionOwnership[]> {
    const claimed: PartitionOwnership[] = [];
    for (const claim of claims) {
      const won = await this.claimOne(claim);
      if (won) claimed.push(won);
    }
    return claimed;
  }

  private async claimOne(claim: PartitionOwnership): Promise<PartitionOwnership | null> {
    const scope = { namespace: claim.fullyQualifiedNamespace, hub: claim.eventHubName, consumerGroup: claim.consumerGroup };
    const key = { ...scopeWhere(scope), partition_id: claim.partitionId };
    const now = this.now();
    const etag = randomUUID();
    const won = await this.db.transaction(async (trx) => {
      const current = await lockedRow(trx, key);
      if (current === undefined) {
        if (claim.etag !== undefined) return false;
        const inserted = await trx('eventhub_ownership')
          .insert({ ...key, owner_id: claim.ownerId, etag, last_modified_ms: now })
          .onConflict(['namespace', 'hub', 'consumer_group', 'partition_id'])
          .ignore()
          .returning('etag');
        return inserted.length === 1;
      }
      // The SDK's optimistic concurrency: a claim made on a stale view of the ownership loses.
      if (current.etag !== claim.etag) return false;
      const heldByOther = current.owner_id !== '' && current.owner_id !== claim.ownerId && now - Number(current.last_modified_ms) < this.expiryMs;
      if (heldByOther && claim.ownerId !== '') {
        this.refusedClaims.set(claim.partitionId, { partitionId: claim.partitionId, ownerId: current.owner_id });
        return false;
      }
      const updated = await trx('eventhub_ownership').where({ ...key, etag: current.etag }).update({ owner_id: claim.ownerId, etag, last_modified_ms: now });
      return updated === 1;
    });
    if (!won) return null;
    this.refusedClaims.delete(claim.partitionId);
    return { ...claim, etag, lastModifiedTimeInMs: now };
  }

  /**
   * Gives up a partition this owner holds but no longer reads (its receiver stopped after an error):
   * the SDK neither renews nor reclaims such a partition until the claim expires, so without this
   * the run would wait out the expiry before reading it again. With no partition: all of them, which
   * a run does as it starts, for the claims a killed predecessor under the same lock left behind.
   */
  async abandon(namespace: string, hub: string, consumerGroup: string, partitionId: string | null, ownerId: string): Promise<void> {
    await this.db('eventhub_ownership')
      .where({ ...scopeWhere({ namespace, hub, consumerGroup }), ...(partitionId === null ? {} : { partition_id: partitionId }), owner_id: ownerId })
      .update({ owner_id: '', etag: randomUUID(), last_modified_ms: this.now() });
  }

  async listCheckpoints(namespace: string, hub: string, consumerGroup: string): Promise<Checkpoint[]> {
    return readCheckpoints(this.db, { namespace, hub, consumerGroup });
  }

  async updateCheckpoint(checkpoint: Checkpoint): Promise<void> {
    const scope = { namespace: checkpoint.fullyQualifiedNamespace, hub: checkpoint.eventHubName, consumerGroup: checkpoint.consumerGroup };
    await writeCheckpoint(this.db, scope, checkpoint.partitionId, { offset: checkpoint.offset, sequenceNumber: checkpoint.sequenceNumber }, undefined);
  }
}

interface OwnershipRow {
  namespace: string;
  hub: string;
  consumer_group: string;
  partition_id: string;
  owner_id: string;
  etag: string;
  last_modified_ms: number | string;
}

async function lockedRow(trx: Knex.Transaction, key: Record<string, string>): Promise<OwnershipRow | undefined> {
  const query = trx('eventhub_ownership').where(key).first<OwnershipRow | undefined>('*');
  // SQLite serialises writers already; PostgreSQL needs the row lock so two claims cannot both read the old etag.
  return trx.client.config.client === 'pg' ? query.forUpdate() : query;
}

function toOwnership(row: OwnershipRow): PartitionOwnership {
  return {
    fullyQualifiedNamespace: row.namespace,
    eventHubName: row.hub,
    consumerGroup: row.consumer_group,
    partitionId: row.partition_id,
    ownerId: row.owner_id,
    etag: row.etag,
    lastModifiedTimeInMs: Number(row.last_modified_ms),
  };
}

/** Where a partition's reading stopped: the last event the portal has taken (stored or skipped). */
export interface Position {
  readonly offset: string;
  readonly sequenceNumber: number;
}

export async function readCheckpoints(db: Knex | Knex.Transaction, scope: HubScope): Promise<Checkpoint[]> {
  const rows = await db('eventhub_checkpoints')
    .where(scopeWhere(scope))
    .select<Array<{ partition_id: string; event_offset: string; sequence_number: number | string }>>('partition_id', 'event_offset', 'sequence_number');
  return rows.map((r) => ({
    fullyQualifiedNamespace: scope.namespace,
    eventHubName: scope.hub,
    consumerGroup: scope.consumerGroup,
    partitionId: r.partition_id,
    offset: r.event_offset,
    sequenceNumber: Number(r.sequence_number),
  }));
}

/** The partition's checkpoint inside `db` (a transaction: it is read for update on PostgreSQL). */
export async function readPosition(db: Knex | Knex.Transaction, scope: HubScope, partitionId: string): Promise<Position | null> {
  let query = db('eventhub_checkpoints')
    .where({ ...scopeWhere(scope), partition_id: partitionId })
    .first<{ event_offset: string; sequence_number: number | string } | undefined>('event_offset', 'sequence_number');
  if (db.client.config.client === 'pg' && 'commit' in db) query = query.forUpdate();
  const row = await query;
  return row === undefined ? null : { offset: row.event_offset, sequenceNumber: Number(row.sequence_number) };
}

/**
 * Moves a partition's checkpoint to `to`. With `from` (null: no checkpoint yet) it is a
 * compare-and-set: false, and nothing written, when the checkpoint is no longer where this run
 * last saw it (another reader moved it).
 */
export async function writeCheckpoint(
  db: Knex | Knex.Transaction,
  scope: HubScope,
  partitionId: string,
  to: Position,
  from: Position | null | undefined,
): Promise<boolean> {
  const key = { ...scopeWhere(scope), partition_id: partitionId };
  const values = { event_offset: to.offset, sequence_number: to.sequenceNumber, updated_at: new Date().toISOString() };
  if (from === undefined) {
    await db('eventhub_checkpoints').insert({ ...key, ...values }).onConflict(['namespace', 'hub', 'consumer_group', 'partition_id']).merge();
    return true;
  }
  if (from === null) {
    const inserted = await db('eventhub_checkpoints')
      .insert({ ...key, ...values })
      .onConflict(['namespace', 'hub', 'consumer_group', 'partition_id'])
      .ignore()
      .returning('partition_id');
    return inserted.length === 1;
  }
  const updated = await db('eventhub_checkpoints').where({ ...key, sequence_number: from.sequenceNumber }).update(values);
  return updated === 1;
}
