import type { ServiceContext } from '../src/infra/context.js';
import type { ConnectionPresence } from '../src/modules/collaboration/presence.js';

export interface GraphQLContext {
  service: ServiceContext;
  /**
   * The collaboration connections this instance holds for GraphQL subscribers (`diagramEvents`); set
   * where subscriptions are served (graphql-ws, and SSE through Yoga).
   */
  collaboration?: ConnectionPresence;
}
