/**
 * The shape of a SigV4 `Authorization` header, checked as AWS's front door checks it before any
 * service sees the request:
 *
 *   AWS4-HMAC-SHA256 Credential=<key id>/<yyyymmdd>/<region>/<service>/aws4_request,
 *     SignedHeaders=<lower-case names joined by ;>, Signature=<64 hex>
 *
 * plus an `X-Amz-Date` (or `Date`) header. The signature's value is not verified: the emulator holds
 * the secret only to print it, and what a test needs is that the client signs at all, for the right
 * region and service, with the configured key id. What AWS answers:
 *   no Authorization                   403 MissingAuthenticationTokenException "Missing Authentication Token"
 *   another scheme or a missing part   400 IncompleteSignatureException
 *   scope for another region/service   403 InvalidSignatureException
 *   another key id                     403 AccessDeniedException (what the contract asks; real AWS says
 *                                      UnrecognizedClientException for a key it does not know)
 * Messages name the part that is wrong, never a key id or a secret.
 */
import { AwsError } from './errors.js';
import type { AwsService } from './operations.js';

const SCHEME = 'AWS4-HMAC-SHA256';

export interface SigV4Expectation {
  accessKeyId: string;
  region: string;
  /** undefined: any service (a path that names no operation). */
  service: AwsService | undefined;
}

function parts(rest: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of rest.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

/** Throws the error AWS would answer; returns quietly for a well-formed header. */
export function checkSigV4(authorization: string | undefined, amzDate: string | undefined, expected: SigV4Expectation): void {
  if (authorization === undefined || authorization.trim() === '') throw new AwsError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (!authorization.startsWith(`${SCHEME} `)) {
    throw new AwsError(400, 'IncompleteSignatureException', `Authorization header must use the ${SCHEME} scheme`);
  }
  const p = parts(authorization.slice(SCHEME.length + 1));
  for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
    if (!p.get(name)) throw new AwsError(400, 'IncompleteSignatureException', `Authorization header requires '${name}' parameter.`);
  }
  const scope = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(p.get('Credential')!);
  if (!scope) throw new AwsError(400, 'IncompleteSignatureException', "Authorization header's Credential must be <key id>/<date>/<region>/<service>/aws4_request.");
  if (!/^[a-z0-9-]+(;[a-z0-9-]+)*$/.test(p.get('SignedHeaders')!)) {
    throw new AwsError(400, 'IncompleteSignatureException', "Authorization header's SignedHeaders must be lower-case header names joined by ';'.");
  }
  if (!/^[0-9a-f]{64}$/.test(p.get('Signature')!)) throw new AwsError(400, 'IncompleteSignatureException', "Authorization header's Signature must be 64 hexadecimal digits.");
  if (!amzDate) throw new AwsError(400, 'IncompleteSignatureException', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  const [, keyId, , region, service] = scope;
  if (region !== expected.region) throw new AwsError(403, 'InvalidSignatureException', `Credential should be scoped to a valid region: '${expected.region}'.`);
  if (expected.service !== undefined && service !== expected.service) throw new AwsError(403, 'InvalidSignatureException', `Credential should be scoped to correct service: '${expected.service}'.`);
  if (keyId !== expected.accessKeyId) {
    throw new AwsError(403, 'AccessDeniedException', 'The access key id in the request is not the one this account accepts (emulator: see the fixture\'s aws.accessKeyId)');
  }
}
