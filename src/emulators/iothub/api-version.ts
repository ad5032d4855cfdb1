/**
 * Every request to the hub must name an `api-version` the hub knows; without one, or with one it does
 * not know, the real hub answers 400 `{"Message":"ErrorCode:InvalidProtocolVersion;BadRequest", ...}`
 * (the body quoted in Azure/Industrial-IoT#708 and Azure/azure-iot-sdks#828; error code 400001 in
 * azure-iot-sdk-csharp's ErrorCode.cs, "the API version used by the SDK is not supported").
 */

/**
 * Versions Microsoft's service SDKs have sent (their `ClientApiVersionHelper` / endpoint constants
 * over the years). The emulator serves one behaviour for all of them; the list only decides which
 * requests a real hub would have refused outright.
 */
export const KNOWN_API_VERSIONS: ReadonlySet<string> = new Set([
  '2016-02-03',
  '2016-11-14',
  '2017-06-30',
  '2018-06-30',
  '2018-08-30-preview',
  '2019-03-30',
  '2019-07-01-preview',
  '2019-10-01',
  '2020-03-13',
  '2020-05-31-preview',
  '2020-09-30',
  '2021-04-12',
]);

export type ApiVersionVerdict = { ok: true } | { ok: false; detail: string };

export function checkApiVersion(query: URLSearchParams): ApiVersionVerdict {
  const version = query.get('api-version');
  if (version === null) return { ok: false, detail: 'The api-version query parameter is required' };
  if (!KNOWN_API_VERSIONS.has(version)) return { ok: false, detail: `api-version '${version}' is not supported` };
  return { ok: true };
}
