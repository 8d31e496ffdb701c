import { z } from 'zod';
import {
  CreateDiagramDocument,
  DeleteDiagramDocument,
  GetDiagramDocument,
  GetDiagramModelDocument,
  ListDiagramsDocument,
  PatchDiagramCellDocument,
  PatchDiagramCellsDocument,
  PatchDiagramDocument,
  UpdateDiagramDocument,
} from '../generated/graphql.js';
import { parseInput } from '../../src/infra/errors/validation.js';
import { expectedVersion, jsonPatchOperations } from '../body.js';
import { defineRoute } from '../route-table.js';
import { childRoutes } from './children.js';

const base = '/threat_models/{threat_model_id}/diagrams/{diagram_id}';
const diagramParams = z.object({ threat_model_id: z.string(), diagram_id: z.string() });
const noQuery = z.object({}).passthrough();

// Cells are X6's JSON with their own names (`zIndex`, `data._metadata`): kept as sent on every path.
const CELLS = ['cells'];

/** The seed's batch body: `{"operations": [{"cell_id", "patch": [JSON Patch]}]}`. */
const batchBody = z.strictObject({
  operations: z.array(z.strictObject({ cell_id: z.string(), patch: z.unknown() })).min(1, 'must not be empty'),
});

// The list selects DiagramListItem summaries (no cells); TMI has no bulk diagram endpoints.
export const diagramRoutes = [
  ...childRoutes({
    collection: 'diagrams',
    idParam: 'diagram_id',
    documents: {
      list: ListDiagramsDocument,
      get: GetDiagramDocument,
      create: CreateDiagramDocument,
      update: UpdateDiagramDocument,
      patch: PatchDiagramDocument,
      delete: DeleteDiagramDocument,
    },
    versioned: true,
    verbatimFields: CELLS,
  }),
  defineRoute({
    method: 'GET',
    path: `${base}/model`,
    document: GetDiagramModelDocument,
    params: diagramParams,
    query: noQuery,
    variables: ({ params }) => ({ threatModelId: params.threat_model_id, id: params.diagram_id }),
    status: 200,
  }),
];

/**
 * The cell endpoints the API Integration guide documents beside the contract (not in the OpenAPI
 * document): a JSON Patch on one cell, and patches on several cells in one change. Both answer the
 * whole diagram (DfdDiagram), so the client learns the new `update_vector` and `version`.
 */
export const diagramCellRoutes = [
  defineRoute({
    method: 'PATCH',
    path: `${base}/cells/{cell_id}`,
    document: PatchDiagramCellDocument,
    params: diagramParams.extend({ cell_id: z.string() }),
    query: noQuery,
    bodyTypes: ['application/json-patch+json', 'application/json'],
    variables: (input) => ({
      threatModelId: input.params.threat_model_id,
      id: input.params.diagram_id,
      cellId: input.params.cell_id,
      // Paths and values inside a cell are the cell's own names.
      operations: jsonPatchOperations(input.body, 'all'),
      expectedVersion: expectedVersion(input),
    }),
    status: 200,
  }),
  defineRoute({
    method: 'POST',
    path: `${base}/cells/batch/patch`,
    document: PatchDiagramCellsDocument,
    params: diagramParams,
    query: noQuery,
    bodyTypes: ['application/json'],
    variables: (input) => ({
      threatModelId: input.params.threat_model_id,
      id: input.params.diagram_id,
      patches: parseInput(batchBody, input.body).operations.map((item) => ({
        cellId: item.cell_id,
        operations: jsonPatchOperations(item.patch, 'all'),
      })),
      expectedVersion: expectedVersion(input),
    }),
    status: 200,
  }),
];
