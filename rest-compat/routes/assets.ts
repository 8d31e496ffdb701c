import { z } from 'zod';
import {
  CreateAssetDocument,
  CreateAssetsDocument,
  DeleteAssetDocument,
  GetAssetDocument,
  ListAssetsDocument,
  PatchAssetDocument,
  UpdateAssetDocument,
  UpdateAssetsDocument,
} from '../generated/graphql.js';
import { childRoutes } from './children.js';

export const assetRoutes = childRoutes({
  collection: 'assets',
  idParam: 'asset_id',
  documents: {
    list: ListAssetsDocument,
    get: GetAssetDocument,
    create: CreateAssetDocument,
    update: UpdateAssetDocument,
    patch: PatchAssetDocument,
    delete: DeleteAssetDocument,
  },
  // PUT …/assets/bulk upserts; TMI answers 200 however many it created.
  bulk: { create: CreateAssetsDocument, update: UpdateAssetsDocument, updateStatus: 200 },
  listFilter: {
    // Deleted assets are not kept, so there is nothing more to include.
    query: z.object({ include_deleted: z.enum(['true', 'false']).optional() }),
    variables: () => ({}),
  },
  versioned: true,
});
