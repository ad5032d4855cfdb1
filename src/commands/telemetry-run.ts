import type { ReceivedEventData } from '@azure/event-hubs';
import type { Knex } from 'knex';
import { resolvePassConfig, type CommonOptions, type Env, type PassConfig } from '../config.js';
import { ProviderError } from '../providers/errors.js';
import { ownerIdOf, resolveEventHubConfig, type EventHubConfig, type EventHubOptions } from '../providers/eventhub/config.js';
import { drainEventHub, OWNERSHIP_EXPIRY_MS, type DrainResult, type PartitionStart } from '../providers/eventhub/drain.js';
import { EXIT } from '../run/exit.js';
import { exitCodeOf } from '../run/exit-code.js';
import { checkInterrupted, handleInterrupts } from '../run/interrupt.js';
import { runJob } from '../run/job.js';
import { pushRunMetricsOrWarn, runMetricsHead } from '../run/push-run-metrics.js';
import { createLogger, type Logger } from '../run/log.js';
import type { RunLineFacts } from '../run/output.js';
import { createProgress } from '../run/progress.js';
import { PortalCheckpointStore, writeCheckpoint, type HubScope, type Position } from '../store/eventhub-checkpoints.js';
import { recordRun, type RunEvent } from '../store/runlog.js';
import { CheckpointMovedError, sortByDevice, storeTelemetryBatch, type DeviceSkip, type TelemetryRow } from '../store/telemetry.js';
import { reportUnrunPass } from './report-unrun.js';
import { mapHubEvent, type SkipReason } from './telemetry-mapping.js';
import { printTelemetryResult } from './telemetry-output.js';
import { newTally, Skips, type PartitionTally, type SkipTally } from './telemetry-tally.js';

export const TELEMETRY_COMMAND = 'telemetry';

export interface TelemetryOptions extends CommonOptions, EventHubOptions {}

export interface TelemetryResult extends RunLineFacts {
  readonly status: 'ok' | 'partial' | 'failed' | 'locked' | 'interrupted';
  readonly hub: { readonly namespace: string; readonly name: string; readonly consumerGroup: string } | null;
  readonly partitions: readonly PartitionTally[];
  readonly skipped: Record<string, SkipTally>;
  /** Why the run stopped before every partition was drained, if it did. */
  readonly stoppedBy: 'max-events' | 'max-seconds' | 'signal' | null;
  readonly managementCalls: number;
  readonly error: string | null;
}

/**
 * `telemetry`: drains the IoT Hub's Event Hubs-compatible endpoint into `lorawan_telemetry`, each
 * batch committed with the checkpoint that covers it, then exits.
 */
export async function runTelemetry(opts: TelemetryOptions, env: Env): Promise<number> {
  const startedAt = new Date();
  let config: PassConfig;
  let hub: EventHubConfig;
  try {
    config = resolvePassConfig(TELEMETRY_COMMAND, opts, env, process.stdout.isTTY === true);
    hub = resolveEventHubConfig(opts, env);
  } catch (error) {
    const log = createLogger({ format: opts.logFormat === 'json' ? 'json' : 'text', command: TELEMETRY_COMMAND });
    await reportUnrunPass(TELEMETRY_COMMAND, opts, env, error, startedAt, log);
    throw error;
  }
  const log = createLogger({ format: config.logFormat, command: TELEMETRY_COMMAND });
  if (config.dbIsDefault) log.info(`portal database: ${config.db.display} (the default; set --db or PORTAL_SYNC_DB to choose)`);
  const interruption = handleInterrupts();
  const base = { command: TELEMETRY_COMMAND, dryRun: config.dryRun, startedAt } as const;
  const empty = { hub: null, partitions: [], skipped: {}, stoppedBy: null, managementCalls: 0, runId: null, error: null };

  const result = await runJob<TelemetryResult>(
    config,
    log,
    startedAt,
    async ({ db }) => {
      const drain = new TelemetryDrain(db, hub, config, log, () => interruption.received() !== null);
      const outcome = await drain.run(lockScopeOf(config));
      checkInterrupted(interruption);
      const { status, exitCode, error } = drain.verdict(outcome);
      const summary = drain.summary(outcome);
      const runId = config.dryRun
        ? null
        : await recordRun(
            db,
            { command: TELEMETRY_COMMAND, status, dryRun: false, startedAt, finishedAt: new Date(), exitCode, summary, error },
            drain.events(outcome),
          );
      return { ...base, ...summary, status, exitCode, runId, error, finishedAt: new Date() };
    },
    (end) => ({ ...base, ...empty, status: end.status, exitCode: end.exitCode, error: end.error, runId: end.runId, finishedAt: new Date() }),
  );
  await printTelemetryResult(result, { json: config.json, color: config.color, logFormat: config.logFormat, detailedExitcode: config.detailedExitcode }, log);
  if (config.pushgateway && !config.dryRun && result.status !== 'locked') await pushOwnRunMetrics(config.pushgateway, result, log);
  const exitCode = config.detailedExitcode && result.exitCode === EXIT.ok && stored(result) > 0 ? EXIT.changes : result.exitCode;
  if (interruption.received() !== null) {
    await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
    process.exit(exitCode);
  }
  return exitCode;
}

const stored = (r: Pick<TelemetryResult, 'partitions'>) => r.partitions.reduce((n, p) => n + p.stored, 0);

/** What identifies the run's lock, so the checkpoint store's owner id is one per lock (see ownerIdOf). */
function lockScopeOf(config: PassConfig): string {
  return config.lock === 'postgres' ? `postgres:${config.db.display}` : `file:${config.lockDir}:${config.db.display}`;
}

interface DrainOutcome {
  readonly drained: DrainResult | null;
  readonly failure: unknown;
  readonly scope: HubScope | null;
}

/** One run's reading: the hooks the drain calls, and what they counted. */
class TelemetryDrain {
  private readonly tallies = new Map<string, PartitionTally>();
  private readonly positions = new Map<string, Position | null>();
  private readonly skips = new Skips();
  private readonly warnings: RunEvent[] = [];
  private scope: HubScope | null = null;
  private read = 0;
  /** Events taken by batches being stored, and stored: what --max-events counts. */
  private reserved = 0;
  private stopReason: TelemetryResult['stoppedBy'] = null;
  private readonly progress;
  private readonly deadline: number | null;

  constructor(
    private readonly db: Knex,
    private readonly hub: EventHubConfig,
    private readonly config: PassConfig,
    private readonly log: Logger,
    private readonly interrupted: () => boolean,
  ) {
    this.progress = createProgress(config.progress && !config.json);
    this.deadline = hub.maxSeconds === null ? null : Date.now() + hub.maxSeconds * 1000;
  }

  async run(lockScope: string): Promise<DrainOutcome> {
    const store = new PortalCheckpointStore(this.db, OWNERSHIP_EXPIRY_MS);
    const dryRunStore = this.config.dryRun ? readOnlyStore(store) : null;
    try {
      const drained = await drainEventHub(
        this.hub,
        dryRunStore ?? store,
        ownerIdOf(lockScope),
        {
          toRead: (starts, namespace) => this.toRead(starts, namespace),
          onBatch: (partitionId, events) => this.onBatch(partitionId, events),
          onOpen: (partitionId, checkpoint) => this.onOpen(partitionId, checkpoint),
          shouldStop: () => this.shouldStop(),
        },
        this.deadline,
      );
      for (const [id, end] of drained.ends) {
        const tally = this.tallies.get(id);
        if (!tally) continue;
        if (tally.end === 'drained') tally.end = end;
        tally.ownedBy = drained.ownedBy.get(id) ?? null;
        const error = drained.errors.get(id);
        if (error && tally.error === null) tally.error = error.message;
      }
      if (this.stopReason === null && this.deadline !== null && Date.now() >= this.deadline && [...drained.ends.values()].includes('stopped')) this.stopReason = 'max-seconds';
      if (this.stopReason === null && this.interrupted()) this.stopReason = 'signal';
      return { drained, failure: null, scope: this.scope };
    } catch (error) {
      return { drained: null, failure: error, scope: this.scope };
    } finally {
      this.progress.done();
    }
  }

  private shouldStop(): boolean {
    if (this.interrupted()) return true;
    return this.hub.maxEvents !== null && this.reserved >= this.hub.maxEvents;
  }

  /** Settles partitions with nothing to read, and `--start latest` for those without a checkpoint. */
  private async toRead(starts: readonly PartitionStart[], namespace: string): Promise<ReadonlySet<string>> {
    this.scope = { namespace, hub: this.hub.eventHubName, consumerGroup: this.hub.consumerGroup };
    const toRead = new Set<string>();
    for (const start of starts) {
      const position = start.checkpoint;
      this.positions.set(start.partitionId, position);
      const tally = newTally(start.partitionId, start.lastSequenceNumber, position?.sequenceNumber ?? null);
      this.tallies.set(start.partitionId, tally);
      if (position !== null) {
        if (start.lastSequenceNumber > position.sequenceNumber) toRead.add(start.partitionId);
      } else if (this.hub.start === 'latest') {
        // No checkpoint and --start latest: the reading starts at the partition's end as of now
        // (offset -1, before the first event, when it is empty), recorded so the next run continues there.
        const at = start.lastSequenceNumber < 0 ? { offset: '-1', sequenceNumber: -1 } : { offset: start.lastOffset, sequenceNumber: start.lastSequenceNumber };
        if (!this.config.dryRun) await writeCheckpoint(this.db, this.scope, start.partitionId, at, null);
        this.positions.set(start.partitionId, at);
        tally.toSequenceNumber = at.sequenceNumber;
      } else if (start.lastSequenceNumber >= 0) toRead.add(start.partitionId);
    }
    return toRead;
  }

  /** Continues from where the checkpoint is now, if another run moved it since this one began. */
  private onOpen(partitionId: string, checkpoint: { offset: string; sequenceNumber: number } | null): void {
    const known = this.positions.get(partitionId) ?? null;
    if (checkpoint === null || (known !== null && known.sequenceNumber >= checkpoint.sequenceNumber)) return;
    this.positions.set(partitionId, { offset: checkpoint.offset, sequenceNumber: checkpoint.sequenceNumber });
    const tally = this.tallies.get(partitionId);
    if (tally && tally.read === 0) tally.fromSequenceNumber = tally.toSequenceNumber = checkpoint.sequenceNumber;
  }

  private async onBatch(partitionId: string, received: readonly ReceivedEventData[]): Promise<boolean> {
    const tally = this.tallies.get(partitionId)!;
    const from = this.positions.get(partitionId) ?? null;
    // A receiver that reconnects may hand over again what this run already took: never twice.
    let events = from === null ? received : received.filter((e) => e.sequenceNumber > from.sequenceNumber);
    if (events.length === 0) return true;
    if (this.hub.maxEvents !== null) {
      // Partitions' batches are stored concurrently: a batch reserves its share before it awaits.
      const room = this.hub.maxEvents - this.reserved;
      if (room <= 0) return false;
      if (events.length > room) events = events.slice(0, room);
    }
    this.reserved += events.length;
    if (from !== null && events[0]!.sequenceNumber > from.sequenceNumber + 1) {
      const expired = events[0]!.sequenceNumber - from.sequenceNumber - 1;
      tally.expired += expired;
      this.warnings.push({ level: 'warn', type: 'warning', ref: null, message: `partition ${partitionId}: ${expired} events after the checkpoint had expired from the hub before they were read` });
    }
    const rows: TelemetryRow[] = [];
    const unfit: Array<[SkipReason, string]> = [];
    for (const event of events) {
      const mapped = mapHubEvent(event, partitionId);
      if ('row' in mapped) rows.push(mapped.row);
      else unfit.push([mapped.skip, mapped.detail === null ? mapped.ref : `${mapped.ref} (${mapped.detail})`]);
    }
    const last = events[events.length - 1]!;
    const to: Position = { offset: last.offset, sequenceNumber: last.sequenceNumber };
    let batch: { stored: number; alreadyStored: number; pruned: number };
    try {
      // A dry run sorts by device as the write would, and writes nothing.
      if (this.config.dryRun) {
        const sorted = await sortByDevice(this.db, rows);
        this.skipByDevice(sorted.skipped, partitionId);
        batch = { stored: sorted.accepted.length, alreadyStored: 0, pruned: 0 };
      } else {
        const outcome = await storeTelemetryBatch(this.db, { scope: this.scope!, partitionId, rows, to, from });
        this.skipByDevice(outcome.skipped, partitionId);
        batch = outcome;
      }
    } catch (error) {
      if (error instanceof CheckpointMovedError) {
        tally.end = 'owned elsewhere';
        this.warnings.push({ level: 'warn', type: 'warning', ref: null, message: error.message });
      } else {
        tally.end = 'failed';
        tally.error = `cannot store a batch of partition ${partitionId}: ${error instanceof Error ? error.message : String(error)}`;
      }
      this.reserved -= events.length;
      return false;
    }
    for (const [reason, sample] of unfit) this.skips.add(reason, sample);
    tally.stored += batch.stored;
    tally.alreadyStored += batch.alreadyStored;
    tally.pruned += batch.pruned;
    tally.skipped += events.length - batch.stored - batch.alreadyStored;
    tally.read += events.length;
    tally.toSequenceNumber = to.sequenceNumber;
    this.positions.set(partitionId, to);
    this.read += events.length;
    if (this.hub.maxEvents !== null && this.read >= this.hub.maxEvents) this.stopReason = 'max-events';
    this.progress.update(`telemetry: ${this.read.toLocaleString('en-US')} events read, ${this.storedSoFar().toLocaleString('en-US')} stored`);
    return !this.shouldStop();
  }

  private skipByDevice(skipped: ReadonlyArray<{ row: TelemetryRow; reason: DeviceSkip }>, partitionId: string): void {
    for (const s of skipped) this.skips.add(s.reason, `${s.row.deviceId}@${partitionId}/${s.row.sequenceNumber}`);
  }

  private storedSoFar(): number {
    let n = 0;
    for (const t of this.tallies.values()) n += t.stored;
    return n;
  }

  verdict(outcome: DrainOutcome): { status: 'ok' | 'partial' | 'failed'; exitCode: number; error: string | null } {
    if (outcome.failure !== null) {
      const message = outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure);
      return { status: 'failed', exitCode: exitCodeOf(outcome.failure), error: message };
    }
    const failed = [...this.tallies.values()].filter((t) => t.end === 'failed');
    if (failed.length === 0) return { status: 'ok', exitCode: EXIT.ok, error: null };
    const error = failed.map((t) => t.error ?? `partition ${t.partitionId} failed`).join('; ');
    if (this.storedSoFar() > 0 || failed.length < this.tallies.size) return { status: 'partial', exitCode: EXIT.partial, error };
    // Nothing went through: the exit code of what stopped the first partition (69 unreachable, 78 credentials).
    const first = outcome.drained?.errors.values().next().value;
    return { status: 'failed', exitCode: first instanceof ProviderError ? exitCodeOf(first) : EXIT.failed, error };
  }

  summary(outcome: DrainOutcome): Pick<TelemetryResult, 'hub' | 'partitions' | 'skipped' | 'stoppedBy' | 'managementCalls'> {
    const scope = outcome.scope;
    return {
      hub: scope === null ? null : { namespace: scope.namespace, name: scope.hub, consumerGroup: scope.consumerGroup },
      partitions: [...this.tallies.values()].sort((a, b) => a.partitionId.localeCompare(b.partitionId, 'en', { numeric: true })),
      skipped: this.skips.toJSON(),
      stoppedBy: this.stopReason,
      managementCalls: outcome.drained?.managementCalls ?? 0,
    };
  }

  events(outcome: DrainOutcome): RunEvent[] {
    const events = [...this.skips.events(), ...this.warnings];
    for (const t of this.tallies.values()) {
      if (t.end === 'failed') events.push({ level: 'error', type: 'fail', ref: null, message: t.error ?? `partition ${t.partitionId} failed` });
      if (t.end === 'owned elsewhere' && t.ownedBy !== null) events.push({ level: 'info', type: 'warning', ref: null, message: `partition ${t.partitionId}: read by another run (${t.ownedBy})` });
    }
    if (outcome.failure !== null) events.push({ level: 'error', type: 'error', ref: null, message: outcome.failure instanceof Error ? outcome.failure.message : String(outcome.failure) });
    return events;
  }
}

/** A dry run reads from the portal's checkpoints but writes nothing: ownership lives in memory. */
function readOnlyStore(store: PortalCheckpointStore): PortalCheckpointStore {
  return Object.assign(Object.create(store) as PortalCheckpointStore, {
    refused: () => [],
    listOwnership: async () => [],
    claimOwnership: async (claims: Parameters<PortalCheckpointStore['claimOwnership']>[0]) =>
      claims.map((c) => ({ ...c, etag: `${Date.now()}`, lastModifiedTimeInMs: Date.now() })),
    updateCheckpoint: async () => undefined,
    abandon: async () => undefined,
  });
}

/** The run's own `portal_sync_*` metrics: a warning when they cannot go. */
function pushOwnRunMetrics(url: string, result: TelemetryResult, log: Logger): Promise<void> {
  const sum = (f: (p: PartitionTally) => number) => result.partitions.reduce((n, p) => n + f(p), 0);
  return pushRunMetricsOrWarn(
    url,
    {
      ...runMetricsHead(result),
      changes: { create: sum((p) => p.stored), update: 0, delete: sum((p) => p.pruned) },
      records: { unchanged: sum((p) => p.alreadyStored), skipped: sum((p) => p.skipped), failed: result.partitions.filter((p) => p.end === 'failed').length },
      apiCalls: { management: result.managementCalls },
    },
    log,
    'run metrics',
  );
}
