import type { InputFieldBuilder } from '@pothos/core';
import { ThreatService } from '../src/modules/threats/service.js';
import { type AppSchemaTypes, builder } from './builder.js';
import { addChildOperations } from './children.js';
import { MetadataEntryInput } from './principals.js';
import { ThreatRef } from './threat-types.js';

const CvssScoreInput = builder.inputType('CvssScoreInput', {
  fields: (t) => ({ vector: t.string({ required: true }), score: t.float({ required: true }) }),
});

const SsvcScoreInput = builder.inputType('SsvcScoreInput', {
  fields: (t) => ({
    vector: t.string({ required: true }),
    decision: t.string({ required: true, description: 'Defer, Scheduled, Out-of-Cycle or Immediate' }),
    methodology: t.string({ required: true }),
  }),
});

type Fields = InputFieldBuilder<AppSchemaTypes, 'InputObject'>;

const threatInputFields = (t: Fields) => ({
  name: t.string({ required: true }),
  threatType: t.stringList({ required: true, description: 'Kinds of threat (a set: duplicates collapse)' }),
  description: t.string(),
  mitigation: t.string(),
  diagramId: t.id(),
  cellId: t.id(),
  assetId: t.id({ description: 'An asset of the same threat model' }),
  severity: t.string({ description: 'unknown, informational, low, medium, high or critical (or your own word)' }),
  score: t.float({ description: '0 to 10 in steps of 0.1' }),
  priority: t.string(),
  mitigated: t.boolean(),
  status: t.string(),
  issueUri: t.string(),
  cweId: t.stringList({ description: 'e.g. CWE-89 (a set: duplicates collapse)' }),
  cvss: t.field({ type: [CvssScoreInput] }),
  ssvc: t.field({ type: SsvcScoreInput }),
  includeInReport: t.boolean(),
  timmyEnabled: t.boolean(),
  metadata: t.field({ type: [MetadataEntryInput], description: 'Replaces the metadata when given' }),
});

const ThreatInput = builder.inputType('ThreatInput', { fields: threatInputFields });

const ThreatUpdateInput = builder.inputType('ThreatUpdateInput', {
  description: 'A threat of the bulk update, named by its id',
  fields: (t) => ({ id: t.id({ required: true }), ...threatInputFields(t) }),
});

const ThreatFilter = builder.inputType('ThreatFilter', {
  description: "TMI's threat list filters; list-valued ones match any of their values",
  fields: (t) => ({
    name: t.string({ description: 'Case-insensitive substring of the name' }),
    description: t.string({ description: 'Case-insensitive substring of the description' }),
    threatType: t.stringList(),
    severity: t.stringList({ description: 'unknown, informational, low, medium, high, critical' }),
    priority: t.stringList({ description: 'Case-insensitive' }),
    status: t.stringList({ description: 'Case-insensitive' }),
    mitigated: t.boolean(),
    diagramId: t.id(),
    cellId: t.id(),
    scoreGt: t.float(),
    scoreLt: t.float(),
    scoreEq: t.float(),
    scoreGe: t.float(),
    scoreLe: t.float(),
    createdAfter: t.field({ type: 'DateTime' }),
    createdBefore: t.field({ type: 'DateTime' }),
    modifiedAfter: t.field({ type: 'DateTime' }),
    modifiedBefore: t.field({ type: 'DateTime' }),
  }),
});

addChildOperations({
  typeName: 'Threat',
  plural: 'Threats',
  ref: ThreatRef as never,
  input: ThreatInput as never,
  updateInput: ThreatUpdateInput as never,
  versioned: true,
  service: (ctx) => new ThreatService(ctx) as never,
  list: {
    filter: ThreatFilter as never,
    sortDescription:
      'Comma-separated field:direction pairs (name, severity, score, priority, status, created_at, modified_at); newest first by default',
  },
  bulkPatchAndDelete: true,
});
