/** TMI's webhook event types: `{resource}.{action}` for every announced resource, and `addon.invoked`. */
export const WEBHOOK_EVENT_TYPES = [
  'threat_model.created',
  'threat_model.updated',
  'threat_model.deleted',
  'diagram.created',
  'diagram.updated',
  'diagram.deleted',
  'document.created',
  'document.updated',
  'document.deleted',
  'document.extraction_completed',
  'document.extraction_failed',
  'note.created',
  'note.updated',
  'note.deleted',
  'repository.created',
  'repository.updated',
  'repository.deleted',
  'asset.created',
  'asset.updated',
  'asset.deleted',
  'threat.created',
  'threat.updated',
  'threat.deleted',
  'metadata.created',
  'metadata.updated',
  'metadata.deleted',
  'addon.invoked',
  'survey.created',
  'survey.updated',
  'survey.deleted',
  'survey_response.created',
  'survey_response.updated',
  'survey_response.deleted',
  'system_audit.admin_write',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const known = new Set<string>(WEBHOOK_EVENT_TYPES);
export const isWebhookEventType = (value: string): value is WebhookEventType => known.has(value);

/** The object kinds add-ons may act on (TMI's `objects` list). */
export const ADDON_OBJECT_TYPES = [
  'threat_model',
  'diagram',
  'asset',
  'threat',
  'document',
  'note',
  'repository',
  'metadata',
  'survey',
  'survey_response',
] as const;
export type AddonObjectType = (typeof ADDON_OBJECT_TYPES)[number];
