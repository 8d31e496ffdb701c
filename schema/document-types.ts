import { builder } from './builder.js';

export const DocumentRef = builder.prismaObject('Document', {
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    uri: t.exposeString('uri'),
    includeInReport: t.exposeBoolean('includeInReport'),
    timmyEnabled: t.exposeBoolean('timmyEnabled'),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});
