import { z } from 'zod';
import { ListProjectsDocument } from '../generated/graphql.js';
import { defineRoute, listEnvelope } from '../route-table.js';
import { MAX_OFFSET, RELATIONSHIP_TYPES } from '../../src/modules/projects/service.js';

const text = z
  .string()
  .max(256)
  .regex(/^[^\x00-\x1F]*$/, 'must not contain control characters');

/** TMI's query parameters of GET /projects. */
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(20),
  offset: z.coerce.number().int().min(0).max(MAX_OFFSET).default(0),
  name: text.optional(),
  // Exact statuses, comma-separated.
  status: text.optional(),
  team_id: z.uuid().optional(),
  related_to: z.uuid().optional(),
  relationship: z.enum(RELATIONSHIP_TYPES).optional(),
  transitive: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional(),
});

/** Projects: only the list so far, always empty (teams and projects are a later tier; see ProjectService). */
export const projectRoutes = [
  defineRoute({
    method: 'GET',
    path: '/projects',
    document: ListProjectsDocument,
    params: z.object({}),
    query: listQuery,
    variables: ({ query }) => ({
      limit: query.limit,
      offset: query.offset,
      filter: {
        name: query.name,
        status: query.status?.split(',').map((status) => status.trim()),
        team_id: query.team_id,
        related_to: query.related_to,
        relationship: query.relationship,
        transitive: query.transitive,
      },
    }),
    present: listEnvelope('projects'),
    status: 200,
  }),
];
