import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printSortedSchema } from '../schema/index.js';
import { errorRegistry } from '../src/infra/errors/registry.js';
import { findOperation, openApiSpecPath } from './helpers/openapi.js';
import { restRoutes, seedRoutes } from '../rest-compat/routes/index.js';

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

  it('every REST route in the table is an operation of the TMI contract, or one a seed documents', () => {
    expect(seedRoutes.map((route) => `${route.method} ${route.path}`)).toEqual([
      'PATCH /threat_models/{threat_model_id}/diagrams/{diagram_id}/cells/{cell_id}',
      'POST /threat_models/{threat_model_id}/diagrams/{diagram_id}/cells/batch/patch',
    ]);
    for (const route of restRoutes) {
      if (seedRoutes.includes(route)) continue;
      const concrete = route.path.replace(/\{[^}]+\}/g, '6f1d3b1e-8a5c-4c1a-9a55-0e6d1c2b3a40');
      expect(findOperation(route.method, concrete)?.template, `${route.method} ${route.path}`).toBe(route.path);
    }
  });

  it('every Tier 1 operation under /threat_models of SCOPE.md is served', () => {
    const scope = readFileSync(join(dirname(openApiSpecPath()), 'SCOPE.md'), 'utf8');
    const tier1 = scope.slice(scope.indexOf('### Tier 1'), scope.indexOf('### Tier 2'));
    const wanted = [...tier1.matchAll(/^\| ([A-Z ]+) \| `(\/threat_models[^`]*)` \|$/gm)].flatMap(([, methods, path]) =>
      methods!
        .trim()
        .split(' ')
        .map((method) => `${method} ${path}`),
    );
    const served = new Set(restRoutes.map((route) => `${route.method} ${route.path}`));
    expect(wanted.length).toBeGreaterThan(80);
    expect(wanted.filter((operation) => !served.has(operation))).toEqual([]);
  });
});
