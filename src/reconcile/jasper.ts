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
  readonly ratePlan: string;
  readonly communicationPlan: string;
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
  /** SIMs promoted with a status Control Center does not document (stored as sent). */
  readonly unknownStatus: ReadonlyArray<{ readonly iccid: string; readonly status: string }>;
}

/** ICCIDs are strings of 19 or 20 digits (ITU-T E.118; no Luhn check). */
const ICCID = /^\d{19,20}$/;
const MAX_TEXT = 255;
const MAX_STATUS = 64;

/** Control Center's SIM statuses; another one is stored as sent, with a warning. */
export const KNOWN_STATUSES = new Set(['ACTIVATED', 'ACTIVATION_READY', 'DEACTIVATED', 'INVENTORY', 'PURGED', 'REPLACED', 'RETIRED', 'TEST_READY']);

const missing = (v: string | null) => v === null || v.trim() === '';

/**
 * A staged record as production will hold it, or why it cannot be: iccid, status, ratePlan and
 * communicationPlan are all required (absent, null or blank is missing). Values are kept exactly as
 * sent: plan names are not trimmed or normalised.
 */
export function validateSim(record: StagedSim): Sim | string {
  if (missing(record.iccid)) return 'no iccid';
  if (!ICCID.test(record.iccid!)) return 'iccid is not a string of 19 or 20 digits';
  for (const [name, value] of [
    ['status', record.status],
    ['ratePlan', record.ratePlan],
    ['communicationPlan', record.communicationPlan],
  ] as const) {
    if (missing(value)) return `no ${name}`;
    if (value!.length > (name === 'status' ? MAX_STATUS : MAX_TEXT)) return `${name} longer than ${name === 'status' ? MAX_STATUS : MAX_TEXT} characters`;
  }
  return { iccid: record.iccid!, status: record.status!, ratePlan: record.ratePlan!, communicationPlan: record.communicationPlan! };
}

/** `staged` in listing order (page, position); `current`: production's rows of the ICCIDs staged (or all of the provider's). */
export function planPromotion(staged: readonly StagedSim[], current: ReadonlyMap<string, Sim>): Promotion {
  const newest = new Map<string, Sim>();
  const skipped: Array<{ ref: string; reason: string }> = [];
  let duplicates = 0;
  for (const record of staged) {
    const sim = validateSim(record);
    if (typeof sim === 'string') {
      skipped.push({ ref: missing(record.iccid) ? `page ${record.pageNumber}, record ${record.position + 1}` : record.iccid!, reason: sim });
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
  const unknownStatus = [...create, ...update.map((u) => u.sim)].filter((s) => !KNOWN_STATUSES.has(s.status)).map((s) => ({ iccid: s.iccid, status: s.status }));
  return { create, update, unchanged, skipped, duplicates, unknownStatus };
}
