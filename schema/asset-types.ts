import type { Asset } from '../src/modules/assets/service.js';
import { builder } from './builder.js';
import { childMetadata } from './child-metadata.js';
import { MetadataEntry } from './principals.js';

export const AssetRef = builder.prismaObject('Asset', {
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    type: t.exposeString('type', {
      description: 'data, hardware, software, infrastructure, service or personnel',
    }),
    criticality: t.exposeString('criticality', { nullable: true }),
    classification: t.exposeStringList('classification', { description: 'Tags, without duplicates' }),
    sensitivity: t.exposeString('sensitivity', { nullable: true }),
    includeInReport: t.exposeBoolean('includeInReport'),
    timmyEnabled: t.exposeBoolean('timmyEnabled'),
    metadata: t.field({
      type: [MetadataEntry],
      description: 'Ordered by key',
      resolve: (asset, _args, ctx) => childMetadata(ctx, 'asset', asset as Partial<Asset> & { id: string }),
    }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});
