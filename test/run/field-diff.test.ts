import { describe, expect, it } from 'vitest';
import { describeFieldChange } from '../../src/run/field-diff.js';

const change = (field: string, old: string | number | null, next: string | number | null, secret = false) => ({ field, old, new: next, secret });

describe('describeFieldChange', () => {
  it('shows a scalar as old -> new, a long one cut, a secret as changed only', () => {
    expect(describeFieldChange(change('name', 'a', 'b'))).toEqual(['name: "a" -> "b"']);
    expect(describeFieldChange(change('version', 1, 2))).toEqual(['version: 1 -> 2']);
    expect(describeFieldChange(change('name', null, 'x'.repeat(200)))[0]).toMatch(/^name: null -> "x{77}…"$/);
    expect(describeFieldChange(change('app_key', 'K1', 'K2', true))).toEqual(['app_key: (secret changed)']);
  });

  it('shows tags member by member', () => {
    const lines = describeFieldChange(change('tags', '{"floor":"2","site":"Lyon"}', '{"floor":"3","room":"B"}'));
    expect(lines).toEqual(['tags: ~ floor value "2" -> "3"', 'tags: + room = "B"', 'tags: - site']);
  });

  it('shows edge modules by name, each changed property', () => {
    const old = JSON.stringify([
      { name: 'a', status: 'running', version: '1', image: 'x:1' },
      { name: 'b', status: 'running', version: '1', image: 'y:1' },
    ]);
    const next = JSON.stringify([
      { name: 'a', status: 'stopped', version: '1', image: 'x:2' },
      { name: 'c', status: 'running', version: '1', image: null },
    ]);
    expect(describeFieldChange(change('modules', old, next))).toEqual([
      'modules: ~ a status "running" -> "stopped", image "x:1" -> "x:2"',
      'modules: + c (status "running", version "1")',
      'modules: - b',
    ]);
  });
});
