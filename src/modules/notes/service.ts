import type { z } from 'zod';
import type { Note } from '../../generated/prisma/client.js';
import type { ServiceContext } from '../../infra/context.js';
import { type ChildKind, ChildResourceService } from '../children/service.js';
import { noteInputSchema, notePatchableSchema, sanitizeNoteContent } from './input.js';

export type { Note };

type NoteFields = Pick<Note, 'name' | 'content' | 'description' | 'includeInReport' | 'timmyEnabled'>;

export const noteKind: ChildKind<Note, NoteFields> = {
  resource: 'note',
  label: 'Note',
  table: 'notes',
  versioned: false,
  delegate: (db) => db.note,
  input: noteInputSchema,
  fields: (raw) => {
    const input = raw as z.output<typeof noteInputSchema>;
    return {
      name: input.name,
      content: sanitizeNoteContent(input.content),
      description: input.description ?? null,
      includeInReport: input.includeInReport ?? true,
      timmyEnabled: input.timmyEnabled ?? true,
    };
  },
  patchable: notePatchableSchema,
  document: (note) => ({
    id: note.id,
    threatModelId: note.threatModelId,
    alias: note.alias,
    name: note.name,
    content: note.content,
    description: note.description,
    includeInReport: note.includeInReport,
    timmyEnabled: note.timmyEnabled,
    createdAt: note.createdAt.toISOString(),
    modifiedAt: note.modifiedAt.toISOString(),
  }),
  // TMI offers no bulk endpoints for notes; the GraphQL face keeps the common limit.
  bulkLimit: 20,
  bulkPut: 'update',
};

/** Notes on a threat model (markdown). */
export class NoteService extends ChildResourceService<Note, NoteFields> {
  constructor(ctx: ServiceContext) {
    super(ctx, noteKind);
  }
}
