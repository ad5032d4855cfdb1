export { AwsIot, type AwsIotDeps, type ThingOfType } from './client.js';
export { edgeVerdictOf, EDGE_TAG, type AwsTag, type EdgeVerdict } from './edge.js';
export { classifyAwsError, type AwsFailure } from './errors.js';
export { awsPages, type AwsPage } from './paging.js';
export { FleetIndexUnavailable, FLEET_INDEX_UNAVAILABLE_ERRORS, THING_INDEX } from './fleet-index.js';
