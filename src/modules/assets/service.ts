import { z } from 'zod';
import type { Asset as AssetColumns, AssetMetadata } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import { childName, label, longDescription } from '../shared/fields.js';
import { type ChildKind, ChildResourceService, includeAlways } from '../children/service.js';
import { releaseAssetReferences } from '../threats/service.js';

/** An asset as every read returns it: with its metadata. */
export type Asset = AssetColumns & { metadata: AssetMetadata[] };

// TMI's rules for an asset's client-writable fields (AssetBase).

const tag = label(128);

const fields = {
  name: childName,
  description: longDescription,
  type: z.enum(['data', 'hardware', 'software', 'infrastructure', 'service', 'personnel']),
  criticality: tag.nullish(),
  /** A set: duplicates collapse (also when a JSON Patch adds a tag that is already there). */
  classification: z
    .array(tag)
    .max(50)
    .nullish()
    .transform((tags) => [...new Set(tags ?? [])]),
  sensitivity: tag.nullish(),
  includeInReport: z.boolean().nullish(),
  timmyEnabled: z.boolean().nullish(),
};

export const assetInputSchema = z.strictObject(fields);
type AssetInput = z.output<typeof assetInputSchema>;

/** TMI's per-request limit for bulk create and upsert of assets. */
export const ASSET_BULK_LIMIT = 50;

type AssetFields = Pick<
  AssetColumns,
  | 'name'
  | 'description'
  | 'type'
  | 'criticality'
  | 'classification'
  | 'sensitivity'
  | 'includeInReport'
  | 'timmyEnabled'
>;

export const assetKind: ChildKind<Asset, AssetFields> = {
  resource: 'asset',
  label: 'Asset',
  table: 'assets',
  versioned: true,
  delegate: (db) => includeAlways(db.asset, { metadata: { orderBy: { key: 'asc' } } }),
  input: assetInputSchema,
  fields: (raw) => {
    const input = raw as AssetInput;
    return {
      name: input.name,
      description: input.description ?? null,
      type: input.type,
      criticality: input.criticality ?? null,
      classification: input.classification,
      sensitivity: input.sensitivity ?? null,
      includeInReport: input.includeInReport ?? true,
      timmyEnabled: input.timmyEnabled ?? true,
    };
  },
  patchable: z.strictObject(fields),
  document: (asset) => ({
    id: asset.id,
    threatModelId: asset.threatModelId,
    alias: asset.alias,
    name: asset.name,
    description: asset.description,
    type: asset.type,
    criticality: asset.criticality,
    classification: asset.classification,
    sensitivity: asset.sensitivity,
    includeInReport: asset.includeInReport,
    timmyEnabled: asset.timmyEnabled,
    metadata: asset.metadata.map(({ key, value }) => ({ key, value })),
    version: asset.version,
    createdAt: asset.createdAt.toISOString(),
    modifiedAt: asset.modifiedAt.toISOString(),
  }),
  bulkLimit: ASSET_BULK_LIMIT,
  bulkPut: 'upsert',
  beforeDelete: (tx, events, assets, now) =>
    releaseAssetReferences(
      tx,
      events,
      assets.map((asset) => asset.id),
      now,
    ),
};

/** What a threat model protects: data, hardware, software, infrastructure, services and people. */
export class AssetService extends ChildResourceService<Asset, AssetFields> {
  constructor(ctx: ServiceContext) {
    super(ctx, assetKind);
  }
}
