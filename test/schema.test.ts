import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printSortedSchema } from '../schema/index.js';
import { errorRegistry } from '../src/infra/errors/registry.js';
import { findOperation } from './helpers/openapi.js';
import { threatModelRoutes } from '../rest-compat/routes/threat-models.js';
import { meRoutes } from '../rest-compat/routes/me.js';
import {
  documentMetadataRoutes,
  noteMetadataRoutes,
  repositoryMetadataRoutes,
  threatModelMetadataRoutes,
} from '../rest-compat/routes/metadata.js';
import { repositoryRoutes } from '../rest-compat/routes/repositories.js';
import { noteRoutes } from '../rest-compat/routes/notes.js';
import { documentRoutes } from '../rest-compat/routes/documents.js';

describe('generated artifacts and registries', () => {
  it('api-schema/schema.graphql is the printed schema (run `npm run generate` when this fails)', () => {
    const committed = readFileSync(new URL('../api-schema/schema.graphql', import.meta.url), 'utf8');
    expect(committed).toBe(printSortedSchema());
  });

  it('every error code has an HTTP status and a TMI error string', () => {
    for (const [code, spec] of Object.entries(errorRegistry)) {
      expect(code).toMatch(/^[A-Z][A-Z_]+$/);
      expect(spec.status, code).toBeGreaterThanOrEqual(400);
      expect(spec.status, code).toBeLessThan(600);
      expect(spec.tmiError, code).toMatch(/^[a-z_]+$/);
    }
  });

  it('every REST route in the table is an operation of the TMI contract', () => {
    for (const route of [
      ...threatModelRoutes,
      ...meRoutes,
      ...threatModelMetadataRoutes,
      ...documentMetadataRoutes,
      ...noteMetadataRoutes,
      ...noteRoutes,
      ...repositoryMetadataRoutes,
      ...repositoryRoutes,
      ...documentRoutes,
    ]) {
      const concrete = route.path.replace(/\{[^}]+\}/g, '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40');
      expect(findOperation(route.method, concrete)?.template, `${route.method} ${route.path}`).toBe(route.path);
    }
  });
});
