/**
 * The portal models an AWS fleet's things reference, for `emulate --seed-models`: so that `things`
 * can import the fleet without a `thing-types` or `greengrass` pass first, the seeded rows are the
 * ones those passes would write.
 *   - a device model per standard thing type a thing has (tag `iotEdge` false): id = the type's
 *     thingTypeId, name = its name, description = its description (as `thing-types` makes them);
 *   - an edge device model per edge thing type a thing has (tag `iotEdge` true): name = the type's
 *     name (what `things` matches an edge thing's model by), id and external identifier = the
 *     latest deployment to the dynamic group of that name (as `greengrass` makes them; a derived id
 *     when there is none).
 * A type without the tag, or a deprecated one, is left out, as the commands leave it out.
 */
import { derivedId, type AwsFixture, type AwsThingType } from './fixture.js';

export interface SeedModels {
  deviceModels: { id: string; name: string; description: string | null; supportLoRaFeatures: boolean }[];
  edgeDeviceModels: { id: string; name: string; description: string | null; externalIdentifier: string | null }[];
}

/** true / false from the `iotEdge` tag (key and value case-insensitive); undefined without one or with two that disagree. */
export function edgeTag(t: AwsThingType): boolean | undefined {
  const values = new Set(
    Object.entries(t.tags)
      .filter(([k]) => k.toLowerCase() === 'iotedge')
      .map(([, v]) => v.toLowerCase()),
  );
  if (values.size !== 1) return undefined;
  const [v] = values;
  return v === 'true' ? true : v === 'false' ? false : undefined;
}

export function seedModelsOf(f: AwsFixture): SeedModels {
  const used = new Set(f.things.map((t) => t.type).filter((t): t is string => t !== undefined));
  const out: SeedModels = { deviceModels: [], edgeDeviceModels: [] };
  for (const t of f.thingTypes) {
    if (!used.has(t.name) || t.deprecated) continue;
    const edge = edgeTag(t);
    if (edge === false) out.deviceModels.push({ id: t.id, name: t.name, description: t.description ?? null, supportLoRaFeatures: false });
    if (edge === true) {
      const target = `arn:aws:iot:${f.region}:${f.accountId}:thinggroup/${t.name}`;
      const latest = f.deployments.find((d) => d.isLatestForTarget && d.targetArn === target);
      const id = latest?.id ?? derivedId('edgeModel', t.name);
      out.edgeDeviceModels.push({ id, name: t.name, description: t.description ?? null, externalIdentifier: latest?.id ?? null });
    }
  }
  return out;
}
