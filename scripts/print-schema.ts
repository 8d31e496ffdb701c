import { writeFileSync } from 'node:fs';
import { printSortedSchema } from '../schema/index.js';

writeFileSync(new URL('../api-schema/schema.graphql', import.meta.url), printSortedSchema());
