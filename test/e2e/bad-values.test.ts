/**
 * The bad-value matrix: one pass over a fleet of good twins plus one twin per bad value. On SQLite
 * and PostgreSQL alike every good device lands, and each bad twin is either stored (where its value
 * fits) or skipped with a reason naming the twin's field. No value can stop the pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS } from '../support/backends.js';
import { parseJson, runCli } from '../support/cli.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, lora, MODELS, SECRET_APP_KEY, standard, type Twin } from './fleet.js';

const GOOD = 2_000;
const long = (n: number, ch = 'x') => ch.repeat(n);
const withTags = (id: string, tags: Record<string, unknown>) => standard(id, 1, { tags: { deviceName: `Device ${id}`, modelId: 'm-thermo', ...tags } });
const loraWith = (id: string, side: 'desired' | 'reported', props: Record<string, unknown>): Twin => {
  const base = lora(id) as Twin & { properties: Record<'desired' | 'reported', Record<string, unknown>> };
  return { ...base, properties: { ...base.properties, [side]: { ...base.properties[side], ...props } } };
};

/** [case, twin, expected: 'stored' or the skip reason's pattern]. */
const MATRIX: Array<[string, Twin, 'stored' | RegExp]> = [
  ['deviceName of 300 characters (text: stored)', withTags('bad-name-300', { deviceName: long(300) }), 'stored'],
  ['deviceId of 300 characters', standard(long(300, 'i')), /deviceId is 300 characters long; at most 255 fit/],
  ['deviceId of exactly 255 characters', standard(long(255, 'j')), 'stored'],
  ['layerId of 300 characters', withTags('bad-layer', { layerId: long(300) }), /tags\.layerId is 300 characters long; at most 255 fit/],
  ['layerId of 200 emoji (400 UTF-16 units, 200 characters)', withTags('emoji-layer', { layerId: long(200, '😀') }), 'stored'],
  ['tag name of 300 characters', withTags('bad-tag-name', { [long(300, 't')]: 'v' }), /tag name is 300 characters long; at most 255 fit/],
  ['NUL in deviceId', standard('nul\u0000id'), /deviceId contains a NUL character/],
  ['NUL in deviceName', withTags('nul-name', { deviceName: 'a\u0000b' }), /tags\.deviceName contains a NUL character/],
  ['NUL in a tag value', withTags('nul-tag', { site: 'Ly\u0000on' }), /tag value contains a NUL character/],
  ['statusUpdateTime 2024-13-45T25:61:61Z', standard('bad-status-time', 1, { statusUpdateTime: '2024-13-45T25:61:61Z' }), /statusUpdateTime "2024-13-45T25:61:61.000Z" is not a real instant/],
  ['lastActivityTime 0000-01-01T00:00:00Z', standard('bad-year-0', 1, { lastActivityTime: '0000-01-01T00:00:00Z' }), /lastActivityTime .* is not a real instant/],
  ['lastActivityTime 2025-02-30', standard('bad-feb-30', 1, { lastActivityTime: '2025-02-30T08:00:00Z' }), /lastActivityTime .* is not a real instant/],
  ['lastActivityTime 2024-02-29 (leap day)', standard('leap-day', 1, { lastActivityTime: '2024-02-29T08:00:00Z' }), 'stored'],
  ['lastActivityTime 9999-12-31T23:59:59Z', standard('year-9999', 1, { lastActivityTime: '9999-12-31T23:59:59Z' }), 'stored'],
  ['version 1e20', standard('bad-version-1e20', 1e20), /version 100000000000000000000 is not a whole number from 1 to 9007199254740991/],
  ['version 2^53 - 1', standard('version-max', Number.MAX_SAFE_INTEGER), 'stored'],
  ['RX2DataRate 1e12', loraWith('bad-rx2', 'desired', { RX2DataRate: 1e12 }), /desired\.RX2DataRate 1000000000000 is outside the 32-bit integer range/],
  ['NbRep 2^31', loraWith('bad-nbrep', 'reported', { NbRep: 2 ** 31 }), /reported\.NbRep 2147483648 is outside the 32-bit integer range/],
  ['ClassType of 17 characters', loraWith('bad-class', 'desired', { ClassType: long(17, 'C') }), /desired\.ClassType is 17 characters long; at most 16 fit/],
  ['AppKey of 100 characters', loraWith('bad-appkey', 'desired', { AppKey: `${SECRET_APP_KEY}${long(68, 'F')}` }), /desired\.AppKey is 100 characters long; at most 64 fit/],
  ['NUL in AppKey', loraWith('nul-appkey', 'desired', { AppKey: `${SECRET_APP_KEY}\u0000` }), /desired\.AppKey contains a NUL character/],
];

describe.each(BACKENDS)('bad-value matrix on %s', (backend) => {
  let portal: Portal;
  let doc: Record<string, any>;
  let code: number | null;
  let output: string;

  beforeAll(async () => {
    const good = Array.from({ length: GOOD }, (_, i) => (i % 10 === 0 ? lora(`good-${i}`) : standard(`good-${i}`)));
    portal = await startPortal(backend, fleet([...good, ...MATRIX.map(([, twin]) => twin)]), { devices: MODELS });
    const result = await runCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, '--json'], portal.hub.env());
    code = result.code;
    output = result.stdout + result.stderr;
    doc = parseJson(result);
  });
  afterAll(() => portal.close());

  it('ends ok and stores every good device of the fleet', async () => {
    expect(code).toBe(0);
    expect(doc.status).toBe('ok');
    const stored = new Set((await portal.db.knex()('devices').pluck('id')) as string[]);
    for (let i = 0; i < GOOD; i++) expect(stored.has(`good-${i}`)).toBe(true);
    expect(await portal.db.knex()('lorawan_devices').count({ n: '*' }).first()).toMatchObject({ n: GOOD / 10 });
  });

  it.each(MATRIX)('%s', async (_case, twin, expected) => {
    const id = String(twin.deviceId);
    // PostgreSQL cannot even be asked about a key holding NUL; such a row cannot exist there.
    const row = id.includes('\u0000') && backend === 'postgres' ? undefined : await portal.db.knex()('devices').where('id', id).first();
    const skipped = (doc.skipped as Array<{ ref: string; reason: string }>).find((s) => s.ref === id);
    if (expected === 'stored') {
      expect(skipped).toBeUndefined();
      expect(row).toBeDefined();
    } else {
      expect(row).toBeUndefined();
      expect(skipped?.reason, JSON.stringify(skipped)).toMatch(expected);
      expect(skipped?.reason).toMatch(/^invalid value: /);
    }
  });

  it('names no secret while reporting bad LoRa keys, and records each skip in the run log', async () => {
    expect(output).not.toContain(SECRET_APP_KEY);
    const events = await portal.db.knex()('sync_events').where('type', 'skip').select('ref', 'message');
    expect(events).toHaveLength(MATRIX.filter(([, , e]) => e !== 'stored').length);
    // A key the table cannot hold is still an event: NUL shown as \0, a long ref cut with an ellipsis.
    expect(events.map((e) => e.ref)).toContain('nul\\0id');
    expect(events.find((e) => String(e.ref).startsWith('iii'))?.ref).toMatch(/^i{254}…$/);
    expect(JSON.stringify(events)).not.toContain(SECRET_APP_KEY);
  });
});
