import type { ServiceContext } from '../src/infra/context.js';

export interface GraphQLContext {
  service: ServiceContext;
}
