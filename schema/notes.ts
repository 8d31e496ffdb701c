import { NoteService } from '../src/modules/notes/service.js';
import { builder } from './builder.js';
import { addChildOperations } from './children.js';
import { NoteRef } from './note-types.js';

const NoteInput = builder.inputType('NoteInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    content: t.string({ required: true }),
    description: t.string(),
    includeInReport: t.boolean(),
    timmyEnabled: t.boolean(),
  }),
});

// TMI offers no bulk operations on notes.
addChildOperations({
  typeName: 'Note',
  plural: 'Notes',
  ref: NoteRef as never,
  input: NoteInput as never,
  versioned: false,
  service: (ctx) => new NoteService(ctx) as never,
});
