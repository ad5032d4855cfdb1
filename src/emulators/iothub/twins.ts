/**
 * Twin reads by id (`GET /twins/{id}`, `GET /twins/{id}/modules/{moduleId}`): the lookups over one
 * fixture generation, and what the hub answers when an id is unknown.
 */
import type { DeviceTwin, Fixture, ModuleTwin } from './fixture.js';

export type TwinLookup<T> = { found: true; twin: T } | { found: false; code: 'DeviceNotFound' | 'ModuleNotFound'; message: string };

/** Built once per fixture generation, on the first read by id (a query-only run never pays for it). */
export class TwinIndex {
  private readonly devices = new Map<string, DeviceTwin>();
  private readonly modules = new Map<string, ModuleTwin>();
  /** Devices that have module twins: a module twin may exist without its device in `twins`. */
  private readonly devicesWithModules = new Set<string>();

  constructor(fixture: Pick<Fixture, 'twins' | 'moduleTwins'>) {
    for (const t of fixture.twins) this.devices.set(t.deviceId, t);
    for (const m of fixture.moduleTwins) {
      this.modules.set(moduleKey(m.deviceId, m.moduleId), m);
      this.devicesWithModules.add(m.deviceId);
    }
  }

  device(deviceId: string): TwinLookup<DeviceTwin> {
    const twin = this.devices.get(deviceId);
    return twin ? { found: true, twin } : deviceNotFound(deviceId);
  }

  module(deviceId: string, moduleId: string): TwinLookup<ModuleTwin> {
    const twin = this.modules.get(moduleKey(deviceId, moduleId));
    if (twin) return { found: true, twin };
    if (!this.devices.has(deviceId) && !this.devicesWithModules.has(deviceId)) return deviceNotFound(deviceId);
    return { found: false, code: 'ModuleNotFound', message: `Module ${moduleId} on device ${deviceId} is not registered` };
  }
}

function moduleKey(deviceId: string, moduleId: string): string {
  // A NUL is in neither id, so each pair has its own key.
  return `${deviceId}\u0000${moduleId}`;
}

function deviceNotFound(deviceId: string): TwinLookup<never> {
  return { found: false, code: 'DeviceNotFound', message: `Device ${deviceId} is not registered` };
}
