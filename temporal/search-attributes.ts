import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, so operators can filter the Temporal UI by clinic.
 * Never put personal data here: search attributes are visible to every operator.
 */
export const TENANT_ID = defineSearchAttributeKey('TenantId', SearchAttributeType.KEYWORD);

/** Consultations: find "today's online consultations of clinic X still waiting" in the UI. */
export const CONSULTATION_STATUS = defineSearchAttributeKey('ConsultationStatus', SearchAttributeType.KEYWORD);
export const PRACTITIONER_ID = defineSearchAttributeKey('PractitionerId', SearchAttributeType.KEYWORD);
export const SCHEDULED_START = defineSearchAttributeKey('ScheduledStart', SearchAttributeType.DATETIME);
export const CONSULTATION_MODE = defineSearchAttributeKey('ConsultationMode', SearchAttributeType.KEYWORD);

/** Incidents: find "the critical incident INC-…" in the UI (ids and the severity only, never the text). */
export const INCIDENT_ID = defineSearchAttributeKey('IncidentId', SearchAttributeType.KEYWORD);
export const SEVERITY = defineSearchAttributeKey('Severity', SearchAttributeType.KEYWORD);

export const CUSTOM_SEARCH_ATTRIBUTES = [TENANT_ID, CONSULTATION_STATUS, PRACTITIONER_ID, SCHEDULED_START, CONSULTATION_MODE, INCIDENT_ID, SEVERITY] as const;

/** The dev server's --search-attribute spelling of a type. */
const DEV_SERVER_TYPE: Record<string, string> = {
  [SearchAttributeType.KEYWORD]: 'Keyword',
  [SearchAttributeType.TEXT]: 'Text',
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.BOOL]: 'Bool',
  [SearchAttributeType.DATETIME]: 'Datetime',
  [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
};

export function devServerSearchAttributeFlags(): string[] {
  return CUSTOM_SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${DEV_SERVER_TYPE[k.type]}`]);
}

/** The server's IndexedValueType for each of our types (temporal.api.enums.v1.IndexedValueType). */
const INDEXED_VALUE_TYPE: Record<string, number> = {
  [SearchAttributeType.TEXT]: 1,
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
  [SearchAttributeType.BOOL]: 5,
  [SearchAttributeType.DATETIME]: 6,
  [SearchAttributeType.KEYWORD_LIST]: 7,
};

interface OperatorService {
  listSearchAttributes(req: { namespace: string }): Promise<{ customAttributes?: Record<string, unknown> | null }>;
  addSearchAttributes(req: { namespace: string; searchAttributes: Record<string, number> }): Promise<unknown>;
}

/**
 * Registers the custom search attributes the namespace lacks (workers call it at start), so a
 * new cluster or namespace needs no manual `temporal operator search-attribute create`. Adds
 * only what is missing: an existing attribute is never changed. Returns the names it added.
 */
export async function ensureSearchAttributes(operatorService: OperatorService, namespace: string): Promise<string[]> {
  const { customAttributes } = await operatorService.listSearchAttributes({ namespace });
  const missing = CUSTOM_SEARCH_ATTRIBUTES.filter((k) => !(k.name in (customAttributes ?? {})));
  if (missing.length === 0) return [];
  await operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]!])),
  });
  return missing.map((k) => k.name);
}
