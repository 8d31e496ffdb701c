import { z } from 'zod';
import {
  CreateNoteDocument,
  DeleteNoteDocument,
  GetNoteDocument,
  ListNotesDocument,
  PatchNoteDocument,
  UpdateNoteDocument,
} from '../generated/graphql.js';
import { bodyObject, jsonPatchOperations } from '../body.js';
import { defineRoute } from '../route-table.js';

const base = '/threat_models/{threat_model_id}/notes';
const threatModelParams = z.object({ threat_model_id: z.string() });
const noteParams = threatModelParams.extend({ note_id: z.string() });
const noQuery = z.object({}).passthrough();
const page = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000_000).default(0),
});
const json = ['application/json'];

export const noteRoutes = [
  defineRoute({
    method: 'GET',
    path: base,
    document: ListNotesDocument,
    params: threatModelParams,
    query: page,
    variables: ({ params, query }) => ({
      threatModelId: params.threat_model_id,
      limit: query.limit,
      offset: query.offset,
    }),
    // The list shows NoteListItem summaries: everything but the content.
    present: (result) => {
      const { items, ...rest } = result as { items: unknown[] };
      return { notes: items, ...rest };
    },
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: base,
    document: CreateNoteDocument,
    params: threatModelParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({ threatModelId: params.threat_model_id, input: bodyObject(body) }),
    status: 201,
  }),
  defineRoute({
    method: 'GET',
    path: `${base}/{note_id}`,
    document: GetNoteDocument,
    params: noteParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.note_id }),
    status: 200,
  }),
  defineRoute({
    method: 'PUT',
    path: `${base}/{note_id}`,
    document: UpdateNoteDocument,
    params: noteParams,
    query: noQuery,
    bodyTypes: json,
    variables: ({ params, body }) => ({
      threatModelId: params.threat_model_id,
      id: params.note_id,
      input: bodyObject(body),
    }),
    status: 200,
  }),
  defineRoute({
    method: 'PATCH',
    path: `${base}/{note_id}`,
    document: PatchNoteDocument,
    params: noteParams,
    query: noQuery,
    bodyTypes: ['application/json-patch+json', 'application/json'],
    variables: ({ params, body }) => ({
      threatModelId: params.threat_model_id,
      id: params.note_id,
      operations: jsonPatchOperations(body),
    }),
    status: 200,
  }),
  defineRoute({
    method: 'DELETE',
    path: `${base}/{note_id}`,
    document: DeleteNoteDocument,
    params: noteParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.note_id }),
    status: 204,
  }),
];
