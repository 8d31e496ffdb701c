import {
  PROJECT_STATUSES,
  type ProjectStatus,
  type ProjectSummary,
  ProjectService,
  RELATIONSHIP_TYPES,
  type RelationshipType,
} from '../src/modules/projects/service.js';
import { builder } from './builder.js';

// Projects (TMI's third tier, with teams): only the list is served, and it is always empty until the tier
// is implemented (see ProjectService). The types are TMI's, so the list already has its final shape.

const screaming = <T extends string>(values: readonly T[]) =>
  Object.fromEntries(values.map((value) => [value.toUpperCase(), { value }])) as Record<string, { value: T }>;

const ProjectStatusEnum = builder.enumType('ProjectStatus', {
  description: "A project's lifecycle status",
  values: screaming<ProjectStatus>(PROJECT_STATUSES),
});

const ProjectRelationshipEnum = builder.enumType('ProjectRelationship', {
  description: 'How two projects (or teams) are related',
  values: screaming<RelationshipType>(RELATIONSHIP_TYPES),
});

const ProjectRef = builder.objectRef<ProjectSummary>('Project').implement({
  description: 'A project: work of a team that threat models belong to',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    status: t.field({ type: ProjectStatusEnum, nullable: true, resolve: (project) => project.status }),
    teamId: t.exposeID('teamId'),
    teamName: t.exposeString('teamName', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    modifiedAt: t.expose('modifiedAt', { type: 'DateTime', nullable: true }),
    noteCount: t.exposeInt('noteCount'),
  }),
});

const ProjectPage = builder
  .objectRef<{ items: ProjectSummary[]; total: number; limit: number; offset: number }>('ProjectPage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [ProjectRef], resolve: (page) => page.items }),
      total: t.exposeInt('total'),
      limit: t.exposeInt('limit'),
      offset: t.exposeInt('offset'),
    }),
  });

const ProjectFilter = builder.inputType('ProjectFilter', {
  fields: (t) => ({
    name: t.string({ description: 'Part of the name' }),
    status: t.stringList({ description: 'Any of these statuses' }),
    teamId: t.id(),
    relatedTo: t.id({ description: 'Projects related to this one' }),
    relationship: t.field({ type: ProjectRelationshipEnum, description: 'With relatedTo: only this relation' }),
    transitive: t.boolean({ description: 'With relatedTo and relationship: follow parent/child chains' }),
  }),
});

builder.queryFields((t) => ({
  projectPage: t.field({
    type: ProjectPage,
    description:
      "The projects of the caller's teams, as TMI's REST list serves them (limit 1–1000). Teams and projects " +
      'are not implemented yet: the page is always empty',
    authScopes: { authenticated: true },
    args: {
      filter: t.arg({ type: ProjectFilter }),
      limit: t.arg.int({ defaultValue: 20 }),
      offset: t.arg.int({ defaultValue: 0 }),
    },
    resolve: (_root, { filter, limit, offset }, ctx) =>
      new ProjectService(ctx.service).list({
        limit: limit ?? 20,
        offset: offset ?? 0,
        name: filter?.name,
        status: filter?.status,
        teamId: filter?.teamId == null ? filter?.teamId : String(filter.teamId),
        relatedTo: filter?.relatedTo == null ? filter?.relatedTo : String(filter.relatedTo),
        relationship: filter?.relationship,
        transitive: filter?.transitive,
      }),
  }),
}));
