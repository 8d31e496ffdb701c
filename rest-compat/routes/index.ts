import type { RestRoute } from '../route-table.js';
import { addonRoutes } from './addons.js';
import { adminRoutes } from './admin.js';
import { assetRoutes } from './assets.js';
import { collaborationRoutes } from './collaboration.js';
import { credentialRoutes } from './credentials.js';
import { diagramCellRoutes, diagramRoutes } from './diagrams.js';
import { documentRoutes } from './documents.js';
import { meRoutes } from './me.js';
import {
  assetMetadataRoutes,
  diagramMetadataRoutes,
  documentMetadataRoutes,
  noteMetadataRoutes,
  repositoryMetadataRoutes,
  threatMetadataRoutes,
  threatModelMetadataRoutes,
} from './metadata.js';
import { noteRoutes } from './notes.js';
import { projectRoutes } from './projects.js';
import { quotaRoutes } from './quotas.js';
import { repositoryRoutes } from './repositories.js';
import { threatModelRoutes } from './threat-models.js';
import { threatRoutes } from './threats.js';
import { webhookRoutes } from './webhooks.js';

/** Every TMI endpoint the route table serves (the OAuth protocol endpoints are registered apart). */
export const restRoutes: RestRoute[] = [
  ...meRoutes,
  ...threatModelRoutes,
  ...threatModelMetadataRoutes,
  ...threatRoutes,
  ...threatMetadataRoutes,
  ...assetRoutes,
  ...assetMetadataRoutes,
  ...documentRoutes,
  ...documentMetadataRoutes,
  ...noteRoutes,
  ...noteMetadataRoutes,
  ...repositoryRoutes,
  ...repositoryMetadataRoutes,
  ...diagramRoutes,
  ...diagramMetadataRoutes,
  ...diagramCellRoutes,
  ...collaborationRoutes,
  ...addonRoutes,
  ...quotaRoutes,
  ...webhookRoutes,
  ...projectRoutes,
  ...adminRoutes,
  ...credentialRoutes,
];

/** The served endpoints a seed documents beside the contract (SCOPE.md lists them): not in the OpenAPI document. */
export const seedRoutes: RestRoute[] = [...diagramCellRoutes];
