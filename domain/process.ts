import { z } from 'zod';
import { displayText } from './fields';
import { withoutDeceptiveCharacters } from './files';

/**
 * Process areas (プロセス): who may enter one. The accounts it lists, members of the groups it
 * lists, and admins when the clinic allows it; to everyone else it does not exist (404).
 */
const ids = z.array(z.string().max(64)).max(500);
/** An area's name: shown in every member's list, so nothing in it may disguise what it says (domain/files.ts). */
const areaName = withoutDeceptiveCharacters.pipe(displayText(200));

export const createProcessSchema = z.strictObject({ name: areaName, allowedAccountIds: ids.default([]), allowedGroupIds: ids.default([]) });
export type CreateProcessInput = z.output<typeof createProcessSchema>;

export const updateProcessSchema = z
  .strictObject({ name: areaName.optional(), allowedAccountIds: ids.optional(), allowedGroupIds: ids.optional() })
  .refine((v) => Object.keys(v).length > 0, 'at least one of name, allowedAccountIds, allowedGroupIds is required');
export type UpdateProcessInput = z.output<typeof updateProcessSchema>;

export interface Viewer {
  accountId: string;
  roles: readonly string[];
}

/** Admins see every area of a clinic that turned `adminsSeeAllProcesses` on; everyone else only where listed. */
export const seesEveryProcess = (viewer: Viewer, adminsSeeAllProcesses: boolean) => adminsSeeAllProcesses && viewer.roles.includes('admin');

/** The creator can always enter what they made. */
export const accountsAllowedOnCreate = (creator: Viewer, listed: string[]) => [...new Set([creator.accountId, ...listed])];

export interface ProcessArea {
  id: string;
  name: string;
  allowedAccountIds: string[];
  allowedGroupIds: string[];
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface ProcessFile {
  id: string;
  name: string;
  contentType: string;
  size: number;
  createdBy: string | null;
  createdAt: string;
}
