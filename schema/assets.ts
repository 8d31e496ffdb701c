import type { InputFieldBuilder } from '@pothos/core';
import { AssetService } from '../src/modules/assets/service.js';
import { type AppSchemaTypes, builder } from './builder.js';
import { addChildOperations } from './children.js';
import { AssetRef } from './asset-types.js';

type Fields = InputFieldBuilder<AppSchemaTypes, 'InputObject'>;

const assetInputFields = (t: Fields) => ({
  name: t.string({ required: true }),
  type: t.string({ required: true, description: 'data, hardware, software, infrastructure, service or personnel' }),
  description: t.string(),
  criticality: t.string(),
  classification: t.stringList({ description: 'Tags (a set: duplicates collapse)' }),
  sensitivity: t.string(),
  includeInReport: t.boolean(),
  timmyEnabled: t.boolean(),
});

const AssetInput = builder.inputType('AssetInput', { fields: assetInputFields });

const AssetUpdateInput = builder.inputType('AssetUpdateInput', {
  description: 'An asset of the bulk upsert, named by its id (created with that id when it does not exist)',
  fields: (t) => ({ id: t.id({ required: true }), ...assetInputFields(t) }),
});

addChildOperations({
  typeName: 'Asset',
  plural: 'Assets',
  ref: AssetRef as never,
  input: AssetInput as never,
  updateInput: AssetUpdateInput as never,
  versioned: true,
  service: (ctx) => new AssetService(ctx) as never,
});
