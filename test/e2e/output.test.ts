/** What the operator sees: a table that fits the terminal, one JSON record per run for log pipelines, JSON logs from the first line. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { startPortal, type Portal } from '../support/portal.js';
import { fleet, MODELS, standard } from './fleet.js';

describe('output', () => {
  let portal: Portal;
  beforeEach(async () => {
    portal = await startPortal('sqlite', fleet([standard('short-1'), standard(`a-very-long-device-id-${'x'.repeat(80)}`), standard('short-2', 1, { tags: { deviceName: 'N'.repeat(300), modelId: 'm-thermo' } })]), { devices: MODELS });
  });
  afterEach(() => portal.close());
  const sync = (args: string[], env: Record<string, string> = {}) =>
    runCli(['devices', '--db', portal.db.url, '--lock-dir', portal.lockDir, ...args], { ...portal.hub.env(), ...env });

  it('fits the diff table to the terminal width, cutting cells with an ellipsis and never wrapping a row', async () => {
    await sync([]);
    portal.hub.write(fleet([standard('short-1', 2, { tags: { deviceName: 'M'.repeat(300), modelId: 'm-thermo', site: 'Lyon' } })], []));
    const result = await sync(['--dry-run', '--allow-mass-delete'], { COLUMNS: '72' });
    expect(result.code).toBe(0);
    const tableLines = result.stdout.split('\n').filter((l) => /^[│┌└├]/.test(l));
    expect(tableLines.length).toBeGreaterThan(3);
    for (const line of tableLines) expect([...line].length, line).toBeLessThanOrEqual(72);
    expect(result.stdout).toMatch(/│ a-very-long-device-… │/);
    expect(result.stdout).toMatch(/name: "Device short-1" -> "M+… │/);
    // One row per change: the cut row is still on one line beside its key.
    expect(result.stdout).toMatch(/│ - │ a-very-long-device-… *│ delete \(stored version 1\) *│/);
  });

  it('with --log-format json and no --json, stdout is one JSON record per run and stderr only JSON lines', async () => {
    const result = await sync(['--log-format', 'json']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', command: 'devices', status: 'ok', exitCode: 0, summary: { create: 3 }, applied: { create: 3 } });
    for (const line of result.stderr.split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('honours --log-format json from the first line: configuration and usage errors included', async () => {
    const config = await runCli(['devices', '--db', portal.db.url, '--log-format', 'json'], {});
    expect(config.code).toBe(78);
    const usage = await runCli(['devices', '--log-format', 'json', '--no-such-option'], {});
    expect(usage.code).toBe(64);
    for (const result of [config, usage]) {
      const lines = result.stderr.split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({ level: 'error' });
    }
    expect(config.stderr).toContain('IOTHUB_CONNECTION_STRING is not set');
    // A usage error is one line and a hint, not the whole help.
    const plain = await runCli(['devices', '--no-such-option'], {});
    expect(plain.stderr.trim().split('\n')).toEqual(["error: unknown option '--no-such-option'", "(see 'portal-sync --help', or 'portal-sync <command> --help')"]);
  });
});
