import { z } from 'zod';
import { GetMeDocument } from '../generated/graphql.js';
import { defineRoute } from '../route-table.js';

export const meRoutes = [
  defineRoute({
    method: 'GET',
    path: '/me',
    document: GetMeDocument,
    params: z.object({}),
    query: z.object({}).passthrough(),
    variables: () => ({}),
    status: 200,
  }),
];
