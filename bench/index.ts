/**
 * `npm run bench`: every benchmark, then the targets of the issues with ok / MISS. Exits 1 on a miss.
 * BENCH_ONLY=devices|azure|quota|aws|aws-quota|aws-client|metrics|telemetry|navixy|jasper runs one; BENCH_BACKENDS=sqlite,postgres picks the databases.
 */
import { benchAws, benchAwsQuota } from './aws.js';
import { benchAwsClient } from './aws-client.js';
import { benchAzure } from './azure.js';
import { benchDevices } from './devices.js';
import { benchAwsGauges } from './metrics-aws.js';
import { benchAzureGauges } from './metrics-azure.js';
import { benchQuota } from './quota.js';
import { benchTelemetry } from './telemetry.js';
import { benchNavixy } from './navixy.js';
import { benchJasper } from './jasper.js';
import type { Check } from './support.js';

const only = process.env.BENCH_ONLY;
const checks: Check[] = [];
if (!only || only === 'devices') checks.push(...(await benchDevices()));
if (!only || only === 'azure') checks.push(...(await benchAzure()));
if (!only || only === 'quota') checks.push(...(await benchQuota()));
if (!only || only === 'aws') checks.push(...(await benchAws()));
if (!only || only === 'aws' || only === 'aws-quota') checks.push(...(await benchAwsQuota()));
if (!only || only === 'aws-client') checks.push(...(await benchAwsClient()));
if (!only || only === 'metrics') checks.push(...(await benchAzureGauges()), ...(await benchAwsGauges()));
if (!only || only === 'telemetry') checks.push(...(await benchTelemetry()));
if (!only || only === 'navixy') checks.push(...(await benchNavixy()));
if (!only || only === 'jasper') checks.push(...(await benchJasper()));
console.log('');
for (const [text, ok] of checks) console.log(`${ok ? 'ok  ' : 'MISS'} ${text}`);
process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
