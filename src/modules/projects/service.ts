import { z } from 'zod';
import { requirePrincipal, type ServiceContext } from '../../infra/context.js';
import { parseInput } from '../../infra/errors/validation.js';

/** TMI's project lifecycle statuses (`ProjectStatus`). */
export const PROJECT_STATUSES = [
  'active',
  'planning',
  'on_hold',
  'cancelled',
  'in_development',
  'in_review',
  'mvp',
  'limited_availability',
  'general_availability',
  'deprecated',
  'end_of_life',
  'archived',
] as const;
export type ProjectStatus = (typeof PROJECT_STATUSES)[number];

/** How TMI relates teams and projects to each other (`RelationshipType`). */
export const RELATIONSHIP_TYPES = [
  'parent',
  'child',
  'dependency',
  'dependent',
  'supersedes',
  'superseded_by',
  'related',
  'other',
] as const;
export type RelationshipType = (typeof RELATIONSHIP_TYPES)[number];

/** A project as TMI lists it (`ProjectListItem`). */
export interface ProjectSummary {
  id: string;
  name: string;
  description: string | null;
  status: ProjectStatus | null;
  teamId: string;
  teamName: string | null;
  createdAt: Date;
  modifiedAt: Date | null;
  noteCount: number;
}

/** The largest offset either face can carry (a GraphQL Int). */
export const MAX_OFFSET = 2_147_483_647;

/** TMI's list parameters: a page (limit 1–1000, offset ≥ 0) and filters. */
export const projectListSchema = z.strictObject({
  limit: z.number().int().min(1).max(1000),
  offset: z.number().int().min(0).max(MAX_OFFSET),
  name: z.string().max(256).nullish(),
  status: z.array(z.string().max(256)).max(50).nullish(),
  teamId: z.uuid().nullish(),
  relatedTo: z.uuid().nullish(),
  relationship: z.enum(RELATIONSHIP_TYPES).nullish(),
  transitive: z.boolean().nullish(),
});
export type ProjectListInput = z.input<typeof projectListSchema>;

export interface ProjectPage {
  items: ProjectSummary[];
  total: number;
  limit: number;
  offset: number;
}

/**
 * Projects. They belong to teams, which with projects are TMI's third tier and not implemented yet: no
 * project can exist, so the list is answered for real but is always empty (total 0, the page echoed).
 * TMI's web client asks for it on the threat-model editor, so the list must answer in TMI's shape;
 * creating, reading and changing projects come with the tier.
 */
export class ProjectService {
  constructor(private readonly ctx: ServiceContext) {}

  /** The projects the caller may see (their teams'; every project for administrators): none yet. */
  async list(input: ProjectListInput): Promise<ProjectPage> {
    requirePrincipal(this.ctx);
    const { limit, offset } = parseInput(projectListSchema, input);
    return { items: [], total: 0, limit, offset };
  }
}
