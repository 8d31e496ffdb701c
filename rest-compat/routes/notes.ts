import {
  CreateNoteDocument,
  DeleteNoteDocument,
  GetNoteDocument,
  ListNotesDocument,
  PatchNoteDocument,
  UpdateNoteDocument,
} from '../generated/graphql.js';
import { childRoutes } from './children.js';

// The list selects NoteListItem summaries (everything but the content); TMI has no bulk note endpoints.
export const noteRoutes = childRoutes({
  collection: 'notes',
  idParam: 'note_id',
  documents: {
    list: ListNotesDocument,
    get: GetNoteDocument,
    create: CreateNoteDocument,
    update: UpdateNoteDocument,
    patch: PatchNoteDocument,
    delete: DeleteNoteDocument,
  },
  versioned: false,
});
