/**
 * The per-thing calls (DescribeThing, GetThingShadow) over SDK clients of their own, made as the
 * pass makes its other clients (client.ts). The pass's own thread and its SDK thread (sdk-thread.ts)
 * each send through one of these (sdk-threads.ts).
 */
import { DescribeThingCommand, IoTClient } from '@aws-sdk/client-iot';
import { GetThingShadowCommand, IoTDataPlaneClient } from '@aws-sdk/client-iot-data-plane';
import { boundedHttpHandler } from './http.js';
import { leanSdkClient } from './sdk-stack.js';
import type { SdkThreadSettings, ThreadAnswer, ThreadCall } from './sdk-wire.js';

export type PerThingSend = (call: ThreadCall) => Promise<ThreadAnswer>;

export function perThingSender(settings: SdkThreadSettings): PerThingSend {
  const clientConfig = (endpoint: string | undefined) => ({
    region: settings.region,
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler: boundedHttpHandler({ timeoutMs: settings.timeoutMs, concurrency: settings.concurrency }),
    ...(endpoint !== undefined ? { endpoint } : {}),
  });
  const iot = leanSdkClient(new IoTClient(clientConfig(settings.iotEndpoint)));
  // The data plane's client is made by the first GetThingShadow: a pass of edge things alone needs none.
  let dataPlane: { readonly endpoint: string; readonly client: IoTDataPlaneClient } | null = null;
  return async (call) => {
    if (call.operation === 'DescribeThing') {
      const out = await iot.send(new DescribeThingCommand({ thingName: call.thingName }));
      return { thingId: out.thingId };
    }
    if (dataPlane?.endpoint !== call.endpoint) dataPlane = { endpoint: call.endpoint, client: leanSdkClient(new IoTDataPlaneClient(clientConfig(call.endpoint))) };
    await dataPlane.client.send(new GetThingShadowCommand({ thingName: call.thingName }));
    return { shadow: true };
  };
}
