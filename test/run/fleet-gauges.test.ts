import { describe, expect, it } from 'vitest';
import { measureEach, mergeReadings } from '../../src/run/fleet-gauges.js';
import { renderFleetGauges } from '../../src/run/fleet-metrics.js';

describe('measureEach', () => {
  it('keeps the values of the measurements that answered and withholds, with the reason, those that threw', async () => {
    const order: string[] = [];
    const readings = await measureEach([
      { gauges: ['iot_hub_portal_device_count'], read: async () => (order.push('a'), { iot_hub_portal_device_count: 7 }) },
      { gauges: ['iot_hub_portal_edge_device_count', 'iot_hub_portal_connected_edge_device_count'], read: async () => (order.push('b'), Promise.reject(new Error('HTTP 503'))) },
      { gauges: ['iot_hub_portal_concentrator_count'], read: async () => (order.push('c'), { iot_hub_portal_concentrator_count: 0 }) },
    ]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(readings.values).toEqual({ iot_hub_portal_device_count: 7, iot_hub_portal_concentrator_count: 0 });
    expect(readings.withheld).toEqual([{ gauges: ['iot_hub_portal_edge_device_count', 'iot_hub_portal_connected_edge_device_count'], reason: 'HTTP 503', kind: 'failed' }]);
  });

  it('withholds every gauge of a measurement that left one without a finite value', async () => {
    const readings = await measureEach([
      { gauges: ['iot_hub_portal_device_count', 'iot_hub_portal_connected_device_count'], read: async () => ({ iot_hub_portal_device_count: 3, iot_hub_portal_connected_device_count: Number.NaN }) },
    ]);
    expect(readings.values).toEqual({});
    expect(readings.withheld[0]).toMatchObject({ kind: 'failed', reason: 'no value measured for iot_hub_portal_connected_device_count' });
  });

  it('merges sources: values of both, withheld of both', () => {
    const merged = mergeReadings(
      { values: { iot_hub_portal_device_count: 1 }, withheld: [{ gauges: ['iot_hub_portal_edge_device_count'], reason: 'x', kind: 'failed' }] },
      { values: { iot_hub_portal_concentrator_count: 2 }, withheld: [] },
    );
    expect(merged.values).toEqual({ iot_hub_portal_device_count: 1, iot_hub_portal_concentrator_count: 2 });
    expect(merged.withheld).toHaveLength(1);
  });
});

describe('renderFleetGauges', () => {
  it('writes HELP, TYPE gauge and the value of measured gauges only, a zero included', async () => {
    const text = await renderFleetGauges({ iot_hub_portal_device_count: 0, iot_hub_portal_failed_deployment_count: 4 });
    expect(text).toMatch(/^# TYPE iot_hub_portal_device_count gauge$/m);
    expect(text).toMatch(/^iot_hub_portal_device_count 0$/m);
    expect(text).toMatch(/^iot_hub_portal_failed_deployment_count 4$/m);
    expect(text).toMatch(/^# HELP iot_hub_portal_failed_deployment_count \S/m);
    expect(text).not.toContain('iot_hub_portal_edge_device_count');
  });
});
