import { describe, expect, it } from 'vitest';
import { fullSyncSince } from '../../src/commands/jasper-run.js';
import { planPromotion, validateSim, type Sim, type StagedSim } from '../../src/reconcile/jasper.js';

const ICCID = (n: number) => `89012600000000${String(n).padStart(5, '0')}`;
let position = 0;
const staged = (n: number, fields: Partial<StagedSim> = {}, page = 1): StagedSim => ({
  pageNumber: page,
  position: position++,
  iccid: ICCID(n),
  status: 'ACTIVATED',
  ratePlan: 'plan-a',
  communicationPlan: 'cp-1',
  ...fields,
});
const sim = (n: number, fields: Partial<Sim> = {}): Sim => ({ iccid: ICCID(n), status: 'ACTIVATED', ratePlan: 'plan-a', communicationPlan: 'cp-1', ...fields });

describe('validateSim', () => {
  it('takes a complete record exactly as sent (plan names not trimmed)', () => {
    expect(validateSim(staged(1, { ratePlan: ' M2M Europe – 5 GB ', communicationPlan: 'cp ' }))).toEqual(sim(1, { ratePlan: ' M2M Europe – 5 GB ', communicationPlan: 'cp ' }));
  });

  it('rejects a record missing any of the four fields (absent, null or blank), or with an ICCID not of 19 or 20 digits', () => {
    expect(validateSim(staged(1, { iccid: null }))).toBe('no iccid');
    expect(validateSim(staged(1, { iccid: '  ' }))).toBe('no iccid');
    expect(validateSim(staged(1, { iccid: '8901-2600000000000001' }))).toBe('iccid is not a string of 19 or 20 digits');
    expect(validateSim(staged(1, { iccid: '1'.repeat(18) }))).toBe('iccid is not a string of 19 or 20 digits');
    expect(validateSim(staged(1, { iccid: '1'.repeat(21) }))).toBe('iccid is not a string of 19 or 20 digits');
    expect(validateSim(staged(1, { iccid: ` ${ICCID(1)}` }))).toBe('iccid is not a string of 19 or 20 digits');
    expect(validateSim(staged(1, { iccid: '1'.repeat(20) }))).toMatchObject({ iccid: '1'.repeat(20) });
    expect(validateSim(staged(1, { status: null }))).toBe('no status');
    expect(validateSim(staged(1, { ratePlan: ' ' }))).toBe('no ratePlan');
    expect(validateSim(staged(1, { communicationPlan: null }))).toBe('no communicationPlan');
    expect(validateSim(staged(1, { status: 'X'.repeat(65) }))).toBe('status longer than 64 characters');
    expect(validateSim(staged(1, { ratePlan: 'p'.repeat(256) }))).toBe('ratePlan longer than 255 characters');
  });
});

describe('planPromotion', () => {
  it('inserts new ICCIDs, updates changed ones with their fields, keeps the rest', () => {
    const current = new Map([
      [ICCID(1), sim(1)],
      [ICCID(2), sim(2, { status: 'DEACTIVATED' })],
      [ICCID(9), sim(9)],
    ]);
    const p = planPromotion([staged(1), staged(2), staged(3, { ratePlan: 'plan-b' })], current);
    expect(p.create).toEqual([sim(3, { ratePlan: 'plan-b' })]);
    expect(p.update).toEqual([{ sim: sim(2), changes: [{ field: 'status', old: 'DEACTIVATED', new: 'ACTIVATED' }] }]);
    expect(p.unchanged).toBe(1);
    expect(p.skipped).toEqual([]);
    expect(p.unknownStatus).toEqual([]);
  });

  it('keeps the last listed of an ICCID listed twice (the newest), and counts it', () => {
    const p = planPromotion([staged(1, { status: 'TEST_READY' }, 1), staged(2, {}, 1), staged(1, { status: 'ACTIVATED' }, 3)], new Map());
    expect(p.create.map((s) => [s.iccid, s.status])).toEqual([
      [ICCID(2), 'ACTIVATED'],
      [ICCID(1), 'ACTIVATED'],
    ]);
    expect(p.duplicates).toBe(1);
  });

  it('skips bad records with the reason, under the ICCID or the place in the listing, and promotes the others', () => {
    const p = planPromotion([staged(1), { ...staged(2), iccid: null, position: 6, pageNumber: 4 }, staged(3, { status: '' })], new Map());
    expect(p.create.map((s) => s.iccid)).toEqual([ICCID(1)]);
    expect(p.skipped).toEqual([
      { ref: 'page 4, record 7', reason: 'no iccid' },
      { ref: ICCID(3), reason: 'no status' },
    ]);
  });

  it('a bad later copy of an ICCID does not undo the good one: production keeps its last good row', () => {
    const p = planPromotion([staged(1, { status: 'DEACTIVATED' }), staged(1, { status: null })], new Map([[ICCID(1), sim(1)]]));
    expect(p.update).toEqual([{ sim: sim(1, { status: 'DEACTIVATED' }), changes: [{ field: 'status', old: 'ACTIVATED', new: 'DEACTIVATED' }] }]);
    expect(p.skipped).toEqual([{ ref: ICCID(1), reason: 'no status' }]);
  });

  it('stores an undocumented status as sent, and says so', () => {
    const p = planPromotion([staged(1, { status: 'SUSPENDED_BY_OPERATOR' }), staged(2, { status: 'RETIRED' })], new Map());
    expect(p.create.map((s) => s.status)).toEqual(['SUSPENDED_BY_OPERATOR', 'RETIRED']);
    expect(p.unknownStatus).toEqual([{ iccid: ICCID(1), status: 'SUSPENDED_BY_OPERATOR' }]);
  });
});

describe('fullSyncSince', () => {
  it('is a calendar month back in UTC, clamped to the shorter month, then a day, to the second', () => {
    expect(fullSyncSince(new Date('2026-03-31T02:15:07.900Z')).toISOString()).toBe('2026-02-27T02:15:07.000Z');
    expect(fullSyncSince(new Date('2026-12-05T09:30:00.000Z')).toISOString()).toBe('2026-11-04T09:30:00.000Z');
    expect(fullSyncSince(new Date('2026-01-01T00:00:00.000Z')).toISOString()).toBe('2025-11-30T00:00:00.000Z');
    expect(fullSyncSince(new Date('2024-03-30T12:00:00.000Z')).toISOString()).toBe('2024-02-28T12:00:00.000Z');
  });
});
