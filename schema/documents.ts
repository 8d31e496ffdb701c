import { DocumentService } from '../src/modules/documents/service.js';
import { builder } from './builder.js';
import { addChildOperations } from './children.js';
import { DocumentRef } from './document-types.js';

const DocumentInput = builder.inputType('DocumentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    uri: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

const DocumentUpdateInput = builder.inputType('DocumentUpdateInput', {
  description: 'A document of the bulk update, named by its id',
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string({ required: true }),
    uri: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

addChildOperations({
  typeName: 'Document',
  plural: 'Documents',
  ref: DocumentRef as never,
  input: DocumentInput as never,
  updateInput: DocumentUpdateInput as never,
  versioned: true,
  service: (ctx) => new DocumentService(ctx) as never,
});
