/** Reading a real Pushgateway back: what it would hand Prometheus on a scrape. */

/** The value of `name` in the group with exactly these labels (among others the gateway adds), or null when absent. */
export async function gatewaySample(gatewayUrl: string, name: string, labels: Record<string, string>): Promise<number | null> {
  const text = await (await fetch(`${gatewayUrl}/metrics`)).text();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return null;
}
