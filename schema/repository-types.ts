import { builder } from './builder.js';

export const RepositoryRef = builder.prismaObject('Repository', {
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    type: t.exposeString('type', { nullable: true, description: 'git, svn, mercurial or other' }),
    parameters: t.field({
      type: 'JSON',
      nullable: true,
      description: 'How to retrieve the source: {refType: branch|tag|commit, refValue, subPath}',
      resolve: (repository) => repository.parameters,
    }),
    uri: t.exposeString('uri'),
    includeInReport: t.exposeBoolean('includeInReport'),
    timmyEnabled: t.exposeBoolean('timmyEnabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});
