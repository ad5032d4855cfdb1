/** Which hub operation a request names, before anything about it is checked. */

export type Route =
  | { kind: 'query' }
  | { kind: 'configurations'; operation: 'getConfigurations' }
  | { kind: 'twin'; operation: 'getTwin'; deviceId: string }
  | { kind: 'moduleTwin'; operation: 'getModuleTwin'; deviceId: string; moduleId: string }
  /** A twin path whose id is not valid percent-encoding. */
  | { kind: 'badId'; operation: 'getTwin' | 'getModuleTwin' }
  | { kind: 'methodNotAllowed'; allow: string }
  | { kind: 'unknown' };

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

export function matchRoute(method: string, path: string): Route {
  if (path === '/devices/query') return method === 'POST' ? { kind: 'query' } : { kind: 'methodNotAllowed', allow: 'POST' };
  // The SDKs differ: azure-iothub asks for /configurations, the .NET one for /configurations/.
  // Reading one configuration, creating and deleting them (/configurations/{id}) are not emulated.
  if (path === '/configurations' || path === '/configurations/') {
    return method === 'GET' ? { kind: 'configurations', operation: 'getConfigurations' } : { kind: 'methodNotAllowed', allow: 'GET' };
  }
  const s = path.split('/');
  // ['', 'twins', id] or ['', 'twins', id, 'modules', moduleId]
  if (s[0] !== '' || s[1] !== 'twins') return { kind: 'unknown' };
  let route: Route;
  if (s.length === 3 && s[2] !== '') {
    const deviceId = decode(s[2]!);
    route = deviceId === undefined ? { kind: 'badId', operation: 'getTwin' } : { kind: 'twin', operation: 'getTwin', deviceId };
  } else if (s.length === 5 && s[2] !== '' && s[3] === 'modules' && s[4] !== '') {
    const deviceId = decode(s[2]!);
    const moduleId = decode(s[4]!);
    route =
      deviceId === undefined || moduleId === undefined
        ? { kind: 'badId', operation: 'getModuleTwin' }
        : { kind: 'moduleTwin', operation: 'getModuleTwin', deviceId, moduleId };
  } else return { kind: 'unknown' };
  // The emulator reads twins; updating them (PATCH/PUT) is not emulated.
  return method === 'GET' ? route : { kind: 'methodNotAllowed', allow: 'GET' };
}
