import { z } from 'zod';
import {
  CreateThreatDocument,
  CreateThreatsDocument,
  DeleteThreatDocument,
  DeleteThreatsDocument,
  GetThreatDocument,
  ListThreatsDocument,
  PatchThreatDocument,
  PatchThreatsDocument,
  UpdateThreatDocument,
  UpdateThreatsDocument,
} from '../generated/graphql.js';
import { childRoutes } from './children.js';

/** A form-style list parameter: repeated (`?status=a&status=b`) or one value. */
const list = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : [value]))
  .optional();
const number = z.coerce.number().optional();
const date = z.coerce
  .date()
  .transform((value) => value.toISOString())
  .optional();
const boolean = z
  .enum(['true', 'false'])
  .transform((value) => value === 'true')
  .optional();

// TMI's filters on the threat list (the domain validates the values; this only reads the query string).
const threatQuery = z.object({
  sort: z.string().optional(),
  name: z.string().optional(),
  description: z.string().optional(),
  threat_type: list,
  severity: list,
  priority: list,
  status: list,
  mitigated: boolean,
  diagram_id: z.string().optional(),
  cell_id: z.string().optional(),
  score_gt: number,
  score_lt: number,
  score_eq: number,
  score_ge: number,
  score_le: number,
  created_after: date,
  created_before: date,
  modified_after: date,
  modified_before: date,
  // Deleted threats are not kept, so there is nothing more to include.
  include_deleted: boolean,
});

export const threatRoutes = childRoutes({
  collection: 'threats',
  idParam: 'threat_id',
  documents: {
    list: ListThreatsDocument,
    get: GetThreatDocument,
    create: CreateThreatDocument,
    update: UpdateThreatDocument,
    patch: PatchThreatDocument,
    delete: DeleteThreatDocument,
  },
  bulk: { create: CreateThreatsDocument, update: UpdateThreatsDocument, updateStatus: 200 },
  bulkPatchAndDelete: { patch: PatchThreatsDocument, delete: DeleteThreatsDocument, idsParam: 'threat_ids' },
  listFilter: {
    query: threatQuery,
    variables: (raw) => {
      const query = raw as z.output<typeof threatQuery>;
      return {
        sort: query.sort,
        filter: {
          name: query.name,
          description: query.description,
          threatType: query.threat_type,
          severity: query.severity,
          priority: query.priority,
          status: query.status,
          mitigated: query.mitigated,
          diagramId: query.diagram_id,
          cellId: query.cell_id,
          scoreGt: query.score_gt,
          scoreLt: query.score_lt,
          scoreEq: query.score_eq,
          scoreGe: query.score_ge,
          scoreLe: query.score_le,
          createdAfter: query.created_after,
          createdBefore: query.created_before,
          modifiedAfter: query.modified_after,
          modifiedBefore: query.modified_before,
        },
      };
    },
  },
  versioned: true,
});
