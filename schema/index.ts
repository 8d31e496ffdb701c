import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './principals.js';
import './threat-models.js';
import './metadata.js';
import './documents.js';
import './notes.js';
import './repositories.js';
import './threats.js';
import './assets.js';
import './diagrams.js';
import './collaboration.js';
import './collaboration-live.js';
import './me.js';
import './addons.js';
import './quotas.js';
import './webhooks.js';
import './projects.js';
import './admin.js';
import './credentials.js';

export const schema = builder.toSchema();

/** The committed SDL (api-schema/schema.graphql) is this, sorted so diffs stay readable. */
export function printSortedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
