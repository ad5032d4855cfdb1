/**
 * Control Center fleets for tests and the benchmark (`emulate --generate sims=N[,jasperProviders=P]`):
 * P service providers `sp1`..`spP` (default 1), N SIMs dealt over them in turn. ICCIDs are `8901260`
 * and 12 digits (19 in all), consecutive from a base drawn from the seed; statuses mostly ACTIVATED
 * (some DEACTIVATED, INVENTORY, TEST_READY); a few rate and communication plans, one of them with a
 * dash and a trailing space (plan names are stored exactly as sent); modifiedAt whole seconds spread
 * over the 28 days before `now`. 28, not 30: a full sync looks back one calendar month and one day,
 * which from 1-28 March is only 29 days, and it must list every generated SIM whatever the date.
 * Deterministic for the same spec, seed and `now`.
 */
import type { Knex } from 'knex';
import { GenerateSpecError } from '../aws/generate.js';
import { specItems, takeSpecKeys } from '../generate-spec.js';
import { prng } from '../prng.js';
import { DEFAULT_USERNAME } from './fixture.js';

export interface JasperGenerateSpec {
  sims: number;
  providers: number;
}

export const JASPER_GENERATE_KEYS = ['sims', 'jasperProviders'] as const;
const MAX_SIMS = 10_000_000;
const MAX_PROVIDERS = 1000;
export const ICCID_PREFIX = '8901260';
export const STATUSES = ['ACTIVATED', 'DEACTIVATED', 'INVENTORY', 'TEST_READY'] as const;
export const RATE_PLANS = ['IoT Basic 10MB', 'IoT Standard 100MB', 'IoT Pooled 1GB', 'M2M Europe – 5 GB '] as const;
export const COMMUNICATION_PLANS = ['Data Only LTE', 'Data + SMS LTE', 'NB-IoT Data'] as const;
const DAY_S = 86_400;
/** Less than the shortest full-sync window (one month and one day back from a day in March: 29 days). */
export const SPREAD_DAYS = 28;

/** Takes `sims=` and `jasperProviders=` out of a `--generate` spec; `jasper` is undefined when neither is there. */
export function splitJasperSpec(text: string): { rest: string; jasper: string | undefined } {
  const { rest, mine } = takeSpecKeys(text, JASPER_GENERATE_KEYS);
  return { rest, jasper: mine };
}

/** `sims=100000,jasperProviders=3` (these keys only; see splitJasperSpec). */
export function parseJasperGenerateSpec(text: string): JasperGenerateSpec {
  const given = new Map<string, number>();
  for (const { key, value } of specItems(text, JASPER_GENERATE_KEYS, (m) => new GenerateSpecError(m))) {
    if (!/^\d+$/.test(value)) throw new GenerateSpecError(`generate spec: ${key} must be a non-negative integer, got "${value}"`);
    given.set(key, Number(value));
  }
  if (given.has('jasperProviders') && !given.has('sims')) throw new GenerateSpecError('generate spec: jasperProviders needs sims=N');
  return validate({ sims: given.get('sims') ?? 0, providers: given.get('jasperProviders') ?? 1 });
}

function validate(spec: JasperGenerateSpec): JasperGenerateSpec {
  if (!Number.isSafeInteger(spec.sims) || spec.sims < 0) throw new GenerateSpecError(`generate spec: sims must be a non-negative integer, got ${String(spec.sims)}`);
  if (spec.sims > MAX_SIMS) throw new GenerateSpecError(`generate spec: sims=${spec.sims} is more than ${MAX_SIMS}`);
  if (!Number.isSafeInteger(spec.providers) || spec.providers < 1 || spec.providers > MAX_PROVIDERS) {
    throw new GenerateSpecError(`generate spec: jasperProviders must be an integer from 1 to ${MAX_PROVIDERS}, got ${String(spec.providers)}`);
  }
  return spec;
}

/** A generated device, in the fixture's input form. */
export interface GeneratedDevice {
  iccid: string;
  status: string;
  ratePlan: string;
  communicationPlan: string;
  /** ISO 8601, UTC, whole seconds. */
  modifiedAt: string;
}

export interface GeneratedProvider {
  id: string;
  name: string;
  username: string;
  apiKey: string;
  devices: GeneratedDevice[];
}

export interface GeneratedJasper {
  /** The `jasper` section: give it to startJasperEmulator({fixture}) or write it to a fleet file. */
  section: { providers: GeneratedProvider[] };
  /** SIMs per status, over every provider. */
  statuses: Record<string, number>;
}

function hex32(rnd: () => number): string {
  let out = '';
  for (let i = 0; i < 4; i++) out += ((rnd() * 4294967296) >>> 0).toString(16).padStart(8, '0');
  return out;
}

function pickStatus(r: number): string {
  return r < 0.85 ? 'ACTIVATED' : r < 0.92 ? 'DEACTIVATED' : r < 0.96 ? 'INVENTORY' : 'TEST_READY';
}

function pickRatePlan(r: number): string {
  return RATE_PLANS[r < 0.4 ? 0 : r < 0.75 ? 1 : r < 0.95 ? 2 : 3]!;
}

function pickCommunicationPlan(r: number): string {
  return COMMUNICATION_PLANS[r < 0.6 ? 0 : r < 0.9 ? 1 : 2]!;
}

/**
 * Builds the providers and their SIMs. `now` (epoch ms, default the current time) is the end of the
 * SPREAD_DAYS the modification times are spread over.
 */
export function generateJasper(spec: Partial<JasperGenerateSpec>, options: { seed?: number; now?: number } = {}): GeneratedJasper {
  const s = validate({ sims: spec.sims ?? 0, providers: spec.providers ?? 1 });
  const rnd = prng(options.seed ?? 1);
  const nowS = Math.floor((options.now ?? Date.now()) / 1000);
  const providers: GeneratedProvider[] = [];
  for (let p = 1; p <= s.providers; p++) {
    const id = `sp${p}`;
    providers.push({ id, name: `Service provider ${p}`, username: `${DEFAULT_USERNAME}-${id}`, apiKey: `jasper-${hex32(rnd)}`, devices: [] });
  }
  // 12 digits: room for MAX_SIMS consecutive numbers after any base drawn here.
  const base = 10_000_000_000 + Math.floor(rnd() * 800_000_000_000);
  const statuses: Record<string, number> = {};
  for (let i = 0; i < s.sims; i++) {
    const status = pickStatus(rnd());
    statuses[status] = (statuses[status] ?? 0) + 1;
    const ratePlan = pickRatePlan(rnd());
    const communicationPlan = pickCommunicationPlan(rnd());
    const ageS = Math.floor(rnd() * SPREAD_DAYS * DAY_S);
    providers[i % s.providers]!.devices.push({
      iccid: `${ICCID_PREFIX}${String(base + i).padStart(12, '0')}`,
      status,
      ratePlan,
      communicationPlan,
      modifiedAt: new Date((nowS - ageS) * 1000).toISOString(),
    });
  }
  return { section: { providers }, statuses };
}

/** A provider as jasper_service_providers holds it (emulator.providers() gives these). */
export interface SeedProvider {
  id: string;
  name: string;
  username: string;
  baseUrl: string;
}

/**
 * Upserts each provider into `jasper_service_providers` (by id: name, api_base_url, username,
 * billing period end day 1 hour 0, enabled), so that `portal-sync jasper` can run at once. Other
 * providers, cursors and devices are left alone. The table must exist (migrateLatest).
 */
export async function seedJasperProviders(db: Knex, providers: readonly SeedProvider[]): Promise<number> {
  if (providers.length === 0) return 0;
  const rows = providers.map((p) => ({ id: p.id, name: p.name, api_base_url: p.baseUrl, username: p.username, billing_end_day: 1, billing_end_hour: 0, enabled: true }));
  await db.transaction(async (trx) => {
    // A few hundred at most; chunks keep SQLite under its bound-parameter limit anyway.
    for (let i = 0; i < rows.length; i += 500) {
      await trx('jasper_service_providers')
        .insert(rows.slice(i, i + 500))
        .onConflict('id')
        .merge(['name', 'api_base_url', 'username', 'billing_end_day', 'billing_end_hour', 'enabled']);
    }
  });
  return providers.length;
}
