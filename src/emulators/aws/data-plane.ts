/**
 * The IoT data plane's GetThingShadow (service `iotdata`): the classic shadow's JSON document as the
 * response body (the SDK hands it over as bytes in `payload`), or 404 ResourceNotFoundException
 * "No shadow exists with name: ..." when the thing has none (fixture `shadow` false, an unknown
 * thing, or a named shadow: the emulator keeps classic shadows only).
 */
import { notFound } from './errors.js';
import { epochSeconds, ok, optionalQuery, type OpReply, type OpRequest } from './request.js';

function getThingShadow(req: OpRequest): OpReply {
  const name = req.name!;
  const shadowName = optionalQuery(req, 'name');
  const thing = req.state.thing(name);
  if (shadowName !== undefined || !thing || !thing.shadow) throw notFound(`No shadow exists with name: '${shadowName ?? name}'`);
  const timestamp = Math.floor(epochSeconds(req.now));
  return ok({ state: { reported: {} }, metadata: { reported: {} }, version: thing.version, timestamp });
}

export const DATA_PLANE_HANDLERS = { GetThingShadow: getThingShadow } satisfies Record<string, (req: OpRequest) => OpReply>;
