/**
 * The promotion of a `jasper` listing: the staged records of one service provider, in the order the
 * API gave them, validated (required fields, one record per ICCID: the last one listed, the newest,
 * since the API lists by modification time), then compared with production: new ICCIDs inserted,
 * changed ones updated, the others kept. Pure: no I/O.
 */

/** A record as staged: what the API gave, unchecked. */
export interface StagedSim {
  readonly pageNumber: number;
  readonly position: number;
  readonly iccid: string | null;
  readonly status: string | null;
  readonly ratePlan: string | null;
  readonly communicationPlan: string | null;
}

/** A SIM as production holds it. */
export interface Sim {
  readonly iccid: string;
  readonly status: string;
  readonly ratePlan: string | null;
  readonly communicationPlan: string | null;
}

export const SIM_FIELDS = ['status', 'ratePlan', 'communicationPlan'] as const;

export interface SimChange {
  readonly field: (typeof SIM_FIELDS)[number];
  readonly old: string | null;
  readonly new: string | null;
}

export interface Promotion {
  readonly create: readonly Sim[];
  readonly update: ReadonlyArray<{ readonly sim: Sim; readonly changes: readonly SimChange[] }>;
  readonly unchanged: number;
  /** Records left out, with why: `ref` is the ICCID when there is one, else `page K, record N`. */
  readonly skipped: ReadonlyArray<{ readonly ref: string; readonly reason: string }>;
  /** Records listed again later in the same listing (the later one was kept). */
  readonly duplicates: number;
}

/** ICCIDs are 19 or 20 digits (ITU-T E.118), some operators add a check digit or an F filler: 18 to 22. */
const ICCID = /^\d{18,22}F?$/;
const MAX_TEXT = 255;

export function validateSim(record: StagedSim): Sim | string {
  const iccid = record.iccid?.trim() ?? '';
  if (iccid === '') return 'no iccid';
  if (!ICCID.test(iccid)) return 'iccid is not 18 to 22 digits';
  const status = record.status?.trim() ?? '';
  if (status === '') return 'no status';
  if (status.length > 64) return 'status longer than 64 characters';
  for (const [name, value] of [
    ['ratePlan', record.ratePlan],
    ['communicationPlan', record.communicationPlan],
  ] as const) {
    if (value !== null && value.length > MAX_TEXT) return `${name} longer than ${MAX_TEXT} characters`;
  }
  return { iccid, status, ratePlan: blankToNull(record.ratePlan), communicationPlan: blankToNull(record.communicationPlan) };
}

function blankToNull(value: string | null): string | null {
  const v = value?.trim() ?? '';
  return v === '' ? null : v;
}

/** `staged` in listing order (page, position); `current`: production's rows of the ICCIDs staged (or all of the provider's). */
export function planPromotion(staged: readonly StagedSim[], current: ReadonlyMap<string, Sim>): Promotion {
  const newest = new Map<string, Sim>();
  const skipped: Array<{ ref: string; reason: string }> = [];
  let duplicates = 0;
  for (const record of staged) {
    const sim = validateSim(record);
    if (typeof sim === 'string') {
      const iccid = record.iccid?.trim();
      skipped.push({ ref: iccid ? iccid : `page ${record.pageNumber}, record ${record.position + 1}`, reason: sim });
      continue;
    }
    if (newest.has(sim.iccid)) {
      duplicates++;
      newest.delete(sim.iccid);
    }
    newest.set(sim.iccid, sim);
  }
  const create: Sim[] = [];
  const update: Array<{ sim: Sim; changes: SimChange[] }> = [];
  let unchanged = 0;
  for (const sim of newest.values()) {
    const stored = current.get(sim.iccid);
    if (!stored) {
      create.push(sim);
      continue;
    }
    const changes = SIM_FIELDS.filter((f) => stored[f] !== sim[f]).map((f) => ({ field: f, old: stored[f], new: sim[f] }));
    if (changes.length > 0) update.push({ sim, changes });
    else unchanged++;
  }
  return { create, update, unchanged, skipped, duplicates };
}
