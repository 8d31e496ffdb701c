import {
  CreateDocumentDocument,
  CreateDocumentsDocument,
  DeleteDocumentDocument,
  GetDocumentDocument,
  ListDocumentsDocument,
  PatchDocumentDocument,
  UpdateDocumentDocument,
  UpdateDocumentsDocument,
} from '../generated/graphql.js';
import { childRoutes } from './children.js';

export const documentRoutes = childRoutes({
  collection: 'documents',
  idParam: 'document_id',
  documents: {
    list: ListDocumentsDocument,
    get: GetDocumentDocument,
    create: CreateDocumentDocument,
    update: UpdateDocumentDocument,
    patch: PatchDocumentDocument,
    delete: DeleteDocumentDocument,
  },
  // TMI documents 201 for the bulk update as well.
  bulk: { create: CreateDocumentsDocument, update: UpdateDocumentsDocument, updateStatus: 201 },
  versioned: true,
});
