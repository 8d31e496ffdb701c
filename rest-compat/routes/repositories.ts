import {
  CreateRepositoriesDocument,
  CreateRepositoryDocument,
  DeleteRepositoryDocument,
  GetRepositoryDocument,
  ListRepositoriesDocument,
  PatchRepositoryDocument,
  UpdateRepositoriesDocument,
  UpdateRepositoryDocument,
} from '../generated/graphql.js';
import { childRoutes } from './children.js';

export const repositoryRoutes = childRoutes({
  collection: 'repositories',
  idParam: 'repository_id',
  documents: {
    list: ListRepositoriesDocument,
    get: GetRepositoryDocument,
    create: CreateRepositoryDocument,
    update: UpdateRepositoryDocument,
    patch: PatchRepositoryDocument,
    delete: DeleteRepositoryDocument,
  },
  bulk: { create: CreateRepositoriesDocument, update: UpdateRepositoriesDocument, updateStatus: 200 },
  versioned: false,
});
