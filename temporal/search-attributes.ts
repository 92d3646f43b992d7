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
