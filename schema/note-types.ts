import { builder } from './builder.js';

export const NoteRef = builder.prismaObject('Note', {
  fields: (t) => ({
    id: t.exposeID('id'),
    threatModelId: t.exposeID('threatModelId'),
    alias: t.exposeInt('alias'),
    name: t.exposeString('name'),
    content: t.exposeString('content', { description: 'Markdown; safe inline HTML kept, dangerous HTML removed' }),
    description: t.exposeString('description', { nullable: true }),
    includeInReport: t.exposeBoolean('includeInReport'),
    timmyEnabled: t.exposeBoolean('timmyEnabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime' }),
  }),
});
