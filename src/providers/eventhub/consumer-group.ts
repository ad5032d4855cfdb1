/** The consumer group `telemetry` reads with unless told otherwise: one of its own, never `$Default`. */
export const DEFAULT_CONSUMER_GROUP = 'iothub-portal';
