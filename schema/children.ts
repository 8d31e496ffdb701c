import type { InputObjectRef, ObjectRef } from '@pothos/core';
import type { ServiceContext } from '../src/infra/context.js';
import type { ChildResourceService, ChildRow } from '../src/modules/children/service.js';
import { builder } from './builder.js';
import { JsonPatchOperationInput } from './threat-models.js';

type AnyTypes = PothosSchemaTypes.ExtendDefaultTypes<never>;

export interface ChildOperations {
  /** GraphQL type name, e.g. `Document`; fields are named after it (`document`, `createDocument`, …). */
  typeName: string;
  /** Plural for the bulk mutations, e.g. `Documents` (`createDocuments`, `updateDocuments`). */
  plural: string;
  ref: ObjectRef<AnyTypes, ChildRow>;
  input: InputObjectRef<AnyTypes, object>;
  /** The create input, for kinds whose create takes less than a replace (default: `input`). */
  createInput?: InputObjectRef<AnyTypes, object>;
  /** The bulk update item (input fields plus `id`); omit for kinds without bulk operations. */
  updateInput?: InputObjectRef<AnyTypes, { id: string | number } & object>;
  versioned: boolean;
  service: (ctx: ServiceContext) => ChildResourceService<ChildRow, object>;
  /** The page query's filter input and whether it takes a `sort` (e.g. `severity:desc,name`). */
  list?: { filter: InputObjectRef<AnyTypes, object>; sortDescription: string };
  /** Bulk JSON Patch and bulk delete (`patch${plural}`, `delete${plural}`), where TMI has them. */
  bulkPatchAndDelete?: boolean;
}

const BulkPatchItemInput = builder.inputType('BulkPatchItemInput', {
  description: 'JSON Patch operations for one item of a bulk patch, named by its id',
  fields: (t) => ({
    id: t.id({ required: true }),
    operations: t.field({ type: [JsonPatchOperationInput], required: true }),
  }),
});

/**
 * The queries and mutations every child of a threat model offers on the GraphQL face: one by id, an
 * offset page (as TMI's REST list serves it), create, replace, JSON Patch, delete, and bulk create and
 * update where TMI has them.
 */
export function addChildOperations(kind: ChildOperations): void {
  const field = kind.typeName.charAt(0).toLowerCase() + kind.typeName.slice(1);
  const Page = builder
    .objectRef<{ items: ChildRow[]; total: number; limit: number; offset: number }>(`${kind.typeName}Page`)
    .implement({
      fields: (t) => ({
        items: t.field({ type: [kind.ref], resolve: (page) => page.items }),
        total: t.exposeInt('total'),
        limit: t.exposeInt('limit'),
        offset: t.exposeInt('offset'),
      }),
    });
  builder.queryField(field, (t) =>
    t.field({
      type: kind.ref,
      authScopes: { authenticated: true },
      args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => kind.service(ctx.service).get(String(args.threatModelId), String(args.id)),
    }),
  );
  builder.queryField(`${field}Page`, (t) =>
    t.field({
      type: Page,
      description: "Offset pagination, as TMI's REST list serves it",
      authScopes: { authenticated: true },
      args: {
        threatModelId: t.arg.id({ required: true }),
        limit: t.arg.int({ defaultValue: 20 }),
        offset: t.arg.int({ defaultValue: 0 }),
        ...(kind.list
          ? {
              filter: t.arg({ type: kind.list.filter }),
              sort: t.arg.string({ description: kind.list.sortDescription }),
            }
          : {}),
      },
      resolve: (_root, args, ctx) => {
        const { filter, sort } = args as { filter?: object | null; sort?: string | null };
        return kind
          .service(ctx.service)
          .list(String(args.threatModelId), { limit: args.limit ?? 20, offset: args.offset ?? 0 }, { ...filter, sort });
      },
    }),
  );

  builder.mutationField(`create${kind.typeName}`, (t) =>
    t.field({
      type: kind.ref,
      authScopes: { authenticated: true },
      args: {
        threatModelId: t.arg.id({ required: true }),
        input: t.arg({ type: kind.createInput ?? kind.input, required: true }),
      },
      resolve: (_root, args, ctx) => kind.service(ctx.service).create(String(args.threatModelId), args.input),
    }),
  );
  builder.mutationField(`update${kind.typeName}`, (t) =>
    t.field({
      type: kind.ref,
      description: 'Replaces the writable fields; omitted ones take their defaults',
      authScopes: { authenticated: true },
      args: {
        threatModelId: t.arg.id({ required: true }),
        id: t.arg.id({ required: true }),
        input: t.arg({ type: kind.input, required: true }),
        ...(kind.versioned ? { expectedVersion: t.arg.int() } : {}),
      },
      resolve: (_root, args, ctx) =>
        kind
          .service(ctx.service)
          .update(
            String(args.threatModelId),
            String(args.id),
            args.input,
            (args as { expectedVersion?: number | null }).expectedVersion,
          ),
    }),
  );
  builder.mutationField(`patch${kind.typeName}`, (t) =>
    t.field({
      type: kind.ref,
      description: 'Applies RFC 6902 operations (camelCase paths) to the writable fields',
      authScopes: { authenticated: true },
      args: {
        threatModelId: t.arg.id({ required: true }),
        id: t.arg.id({ required: true }),
        operations: t.arg({ type: [JsonPatchOperationInput], required: true }),
        ...(kind.versioned ? { expectedVersion: t.arg.int() } : {}),
      },
      resolve: (_root, args, ctx) =>
        kind
          .service(ctx.service)
          .patch(
            String(args.threatModelId),
            String(args.id),
            args.operations,
            (args as { expectedVersion?: number | null }).expectedVersion,
          ),
    }),
  );
  builder.mutationField(`delete${kind.typeName}`, (t) =>
    t.id({
      authScopes: { authenticated: true },
      args: { threatModelId: t.arg.id({ required: true }), id: t.arg.id({ required: true }) },
      resolve: async (_root, args, ctx) => {
        await kind.service(ctx.service).delete(String(args.threatModelId), String(args.id));
        return String(args.id);
      },
    }),
  );

  if (kind.bulkPatchAndDelete) {
    builder.mutationField(`patch${kind.plural}`, (t) =>
      t.field({
        type: [kind.ref],
        description: 'Applies each item’s JSON Patch operations; all apply or none',
        authScopes: { authenticated: true },
        args: {
          threatModelId: t.arg.id({ required: true }),
          patches: t.arg({ type: [BulkPatchItemInput], required: true }),
        },
        resolve: (_root, args, ctx) =>
          kind.service(ctx.service).patchMany(
            String(args.threatModelId),
            args.patches.map((patch) => ({ id: String(patch.id), operations: patch.operations })),
          ),
      }),
    );
    builder.mutationField(`delete${kind.plural}`, (t) =>
      t.idList({
        description: 'Deletes every listed item or none; returns the deleted ids',
        authScopes: { authenticated: true },
        args: { threatModelId: t.arg.id({ required: true }), ids: t.arg.idList({ required: true }) },
        resolve: (_root, args, ctx) =>
          kind.service(ctx.service).deleteMany(String(args.threatModelId), args.ids.map(String)),
      }),
    );
  }

  const updateInput = kind.updateInput;
  if (!updateInput) return;
  builder.mutationField(`create${kind.plural}`, (t) =>
    t.field({
      type: [kind.ref],
      description: 'Creates every item or none',
      authScopes: { authenticated: true },
      args: { threatModelId: t.arg.id({ required: true }), inputs: t.arg({ type: [kind.input], required: true }) },
      resolve: (_root, args, ctx) => kind.service(ctx.service).createMany(String(args.threatModelId), args.inputs),
    }),
  );
  builder.mutationField(`update${kind.plural}`, (t) =>
    t.field({
      type: [kind.ref],
      description: 'Replaces every listed item (named by id) or none; some kinds create the ids that do not exist',
      authScopes: { authenticated: true },
      args: { threatModelId: t.arg.id({ required: true }), inputs: t.arg({ type: [updateInput], required: true }) },
      resolve: (_root, args, ctx) =>
        kind.service(ctx.service).updateMany(
          String(args.threatModelId),
          args.inputs.map((input) => ({ ...input, id: String(input.id) })),
        ),
    }),
  );
}
