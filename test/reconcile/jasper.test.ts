import { describe, expect, it } from 'vitest';
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
  it('takes a complete record, trimmed, blank plans as null', () => {
    expect(validateSim(staged(1, { iccid: ` ${ICCID(1)} `, ratePlan: '  ', communicationPlan: ' cp ' }))).toEqual({ iccid: ICCID(1), status: 'ACTIVATED', ratePlan: null, communicationPlan: 'cp' });
  });

  it('says why a record cannot be promoted', () => {
    expect(validateSim(staged(1, { iccid: null }))).toBe('no iccid');
    expect(validateSim(staged(1, { iccid: '  ' }))).toBe('no iccid');
    expect(validateSim(staged(1, { iccid: '8901-26' }))).toBe('iccid is not 18 to 22 digits');
    expect(validateSim(staged(1, { iccid: '1'.repeat(17) }))).toBe('iccid is not 18 to 22 digits');
    expect(validateSim(staged(1, { iccid: `${'1'.repeat(19)}F` }))).toMatchObject({ iccid: `${'1'.repeat(19)}F` });
    expect(validateSim(staged(1, { status: null }))).toBe('no status');
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
    const p = planPromotion([staged(1), staged(2), staged(3, { ratePlan: null })], current);
    expect(p.create).toEqual([sim(3, { ratePlan: null })]);
    expect(p.update).toEqual([{ sim: sim(2), changes: [{ field: 'status', old: 'DEACTIVATED', new: 'ACTIVATED' }] }]);
    expect(p.unchanged).toBe(1);
    expect(p.skipped).toEqual([]);
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

  it('a bad later copy of an ICCID does not undo the good one', () => {
    const p = planPromotion([staged(1, { status: 'DEACTIVATED' }), staged(1, { status: null })], new Map([[ICCID(1), sim(1)]]));
    expect(p.update).toEqual([{ sim: sim(1, { status: 'DEACTIVATED' }), changes: [{ field: 'status', old: 'ACTIVATED', new: 'DEACTIVATED' }] }]);
    expect(p.skipped).toEqual([{ ref: ICCID(1), reason: 'no status' }]);
  });
});
