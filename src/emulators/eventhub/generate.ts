/**
 * Deterministic LoRaWAN telemetry for the emulated hub, for benchmarks and demos.
 *
 * `emulate --generate devices=2000,lora=2000,events=200000,partitions=4`: the `events` and
 * `partitions` keys are this generator's (splitEventHubSpec takes them out before the IoT Hub and
 * AWS generators see the rest). N events go round-robin over the generated fleet's LoRaWAN devices
 * (../iothub/generate.ts loraDeviceIds), each device's in its own partition (by the partitioner, as
 * IoT Hub places a device's messages), 50 ms of enqueued time apart from 2024-06-01.
 *
 * The list is lazy: event i is computed from (seed, i) whenever it is read, so 200,000 events cost
 * no memory until they are sent, and reading one twice gives the same event.
 */
import { GenerateSpecError } from '../aws/generate.js';
import type { EventHubEventInput, EventHubFixtureInput, EventList } from './fixture.js';
import { DEFAULT_PARTITIONS } from './fixture.js';
import { prng } from '../prng.js';
import { specItems, takeSpecKeys } from '../generate-spec.js';

export interface EventHubGenerateSpec {
  events: number;
  partitions: number;
}

export const EVENTHUB_GENERATE_KEYS = ['events', 'partitions'] as const;
const MAX_EVENTS = 10_000_000;
const BASE_TIME = Date.UTC(2024, 5, 1);
const STEP_MS = 50;
/** GPS time (tmms) counts from 1980-01-06 and is ahead of UTC by the 18 leap seconds since. */
const GPS_EPOCH_MS = Date.UTC(1980, 0, 6) - 18_000;

/** Takes `events=` and `partitions=` out of a `--generate` spec; `eventhub` is undefined when neither is there. */
export function splitEventHubSpec(text: string): { rest: string; eventhub: string | undefined } {
  const { rest, mine } = takeSpecKeys(text, EVENTHUB_GENERATE_KEYS);
  return { rest, eventhub: mine };
}

export function parseEventHubGenerateSpec(text: string): EventHubGenerateSpec {
  const spec: EventHubGenerateSpec = { events: 0, partitions: DEFAULT_PARTITIONS };
  for (const { key, value } of specItems(text, EVENTHUB_GENERATE_KEYS, (message) => new GenerateSpecError(message))) {
    if (!/^\d+$/.test(value)) throw new GenerateSpecError(`generate spec: ${key} must be a non-negative integer, got "${value}"`);
    spec[key as keyof EventHubGenerateSpec] = Number(value);
  }
  if (spec.events > MAX_EVENTS) throw new GenerateSpecError(`generate spec: events=${spec.events} is more than ${MAX_EVENTS}`);
  if (spec.partitions < 1 || spec.partitions > 32) throw new GenerateSpecError(`generate spec: partitions must be from 1 to 32, got ${spec.partitions}`);
  return spec;
}

function hex(rnd: () => number, chars: number): string {
  let out = '';
  while (out.length < chars) out += ((rnd() * 4294967296) >>> 0).toString(16).padStart(8, '0');
  return out.slice(0, chars).toUpperCase();
}

/** A device's fixed radio identity (its DevEUI and usual gateway), from its id. */
function deviceIdentity(deviceId: string, seed: number): { eui: string; gateway: number } {
  let h = seed >>> 0;
  for (let i = 0; i < deviceId.length; i++) h = Math.imul(h ^ deviceId.charCodeAt(i), 0x01000193) >>> 0;
  const rnd = prng(h);
  return { eui: hex(rnd, 16), gateway: Math.floor(rnd() * 8) };
}

// EU868: the three default channels on radio 1, five more on radio 0.
const FREQUENCIES = [868.1, 868.3, 868.5, 867.1, 867.3, 867.5, 867.7, 867.9];
const DATA_RATES = ['SF7BW125', 'SF8BW125', 'SF9BW125', 'SF10BW125', 'SF11BW125', 'SF12BW125'];
const GATEWAYS = Array.from({ length: 8 }, (_, i) => ({ id: `lora-gw-${String(i + 1).padStart(2, '0')}`, station: `b827:ebff:fe61:${(0x9b30 + i).toString(16)}` }));

/** The LoRaWAN upstream message a gateway's network server module forwards (the INVENTORIES.md fields). */
function loraBody(rnd: () => number, eui: string, gateway: number, fcnt: number, enqueued: number): Record<string, unknown> {
  const received = enqueued - 20 - Math.floor(rnd() * 200);
  const chan = Math.floor(rnd() * FREQUENCIES.length);
  const payload = Buffer.alloc(4);
  const temperature = Math.round((15 + rnd() * 15) * 10) / 10;
  const humidity = Math.floor(30 + rnd() * 50);
  payload.writeInt16BE(Math.round(temperature * 10), 0);
  payload.writeUInt16BE(humidity, 2);
  const gw = GATEWAYS[gateway]!;
  return {
    time: new Date(received).toISOString(),
    tmms: received - GPS_EPOCH_MS,
    freq: FREQUENCIES[chan]!,
    chan,
    rfch: chan < 3 ? 1 : 0,
    modu: 'LORA',
    datr: DATA_RATES[Math.floor(rnd() * DATA_RATES.length)]!,
    rssi: -30 - Math.floor(rnd() * 90),
    lsnr: Math.round((rnd() * 30 - 20) * 10) / 10,
    data: { temperature, humidity },
    port: 1,
    fcnt,
    edgets: received + 5,
    rawdata: payload.toString('base64'),
    eui,
    gatewayid: gw.id,
    stationeui: gw.station,
    dupmsg: null,
  };
}

/**
 * The hub section holding `spec.events` generated events over `loraDeviceIds` (its `events` is a lazy
 * list). Throws GenerateSpecError when there are events but no LoRaWAN device to send them.
 */
export function generateEvents(spec: Partial<EventHubGenerateSpec>, loraDeviceIds: readonly string[], seed = 1): EventHubFixtureInput & { events: EventList } {
  const events = spec.events ?? 0;
  const partitions = spec.partitions ?? DEFAULT_PARTITIONS;
  if (events > 0 && loraDeviceIds.length === 0) {
    throw new GenerateSpecError('generate spec: events need LoRaWAN devices to send them: give devices=D,lora=L too');
  }
  const ids = [...loraDeviceIds];
  const identities = new Map<string, { eui: string; gateway: number }>();
  const at = (i: number): EventHubEventInput | undefined => {
    if (!Number.isInteger(i) || i < 0 || i >= events) return undefined;
    const deviceId = ids[i % ids.length]!;
    let identity = identities.get(deviceId);
    if (!identity) identities.set(deviceId, (identity = deviceIdentity(deviceId, seed)));
    const rnd = prng(Math.imul(seed, 0x9e3779b1) ^ i);
    const enqueued = BASE_TIME + i * STEP_MS;
    return {
      deviceId,
      enqueuedTime: new Date(enqueued).toISOString(),
      body: loraBody(rnd, identity.eui, identity.gateway, Math.floor(i / ids.length) + 1, enqueued),
    };
  };
  return { partitions, events: { length: events, at } };
}
