import { z } from 'zod';
import { nameText } from './fields';
import { CARE_TEAM, hasAnyRole } from './roles';
import { idInput } from './ids';

/**
 * Process areas (プロセス): who may do what in one. Each entry of an area's access list (an
 * account, or a group whose members it covers) carries a right, and a member has the highest
 * right of the entries that cover them:
 * - `read`: see the area, list and download its files;
 * - `write`: also upload files;
 * - `manage`: also rename the area and change its access list.
 * Clinic admins who can enter an area (listed, or every area when the clinic turns
 * `adminsSeeAllProcesses` on) manage it. Auditors are read-only everywhere, whatever else they
 * are: they never create areas, upload or change an access list. To anyone not covered the area
 * does not exist (404); a member lacking the right gets 403 `process_right_required`.
 */
export const PROCESS_RIGHTS = ['read', 'write', 'manage'] as const;
export type ProcessRight = (typeof PROCESS_RIGHTS)[number];

/**
 * The right of an entry sent without one, for a principal not yet listed: `read`, the least one.
 * (An entry without a right for a principal already listed keeps the right it has, so a client
 * that sends only ids never changes anyone's right.)
 */
export const DEFAULT_PROCESS_RIGHT: ProcessRight = 'read';

const RANK: Record<ProcessRight, number> = { read: 1, write: 2, manage: 3 };
export const hasRight = (have: ProcessRight, need: ProcessRight) => RANK[have] >= RANK[need];
export const highestRight = (rights: readonly ProcessRight[]): ProcessRight | null =>
  rights.reduce<ProcessRight | null>((best, r) => (best === null || RANK[r] > RANK[best] ? r : best), null);

/** An access-list entry as stored and answered. */
export interface AccessEntry {
  id: string;
  right: ProcessRight;
}
/** An access-list entry as requested: the right may be left out. */
export interface AccessRequest {
  id: string;
  right?: ProcessRight;
}

const ids = z.array(idInput()).max(500);
const entries = z
  .array(
    z.strictObject({
      id: idInput(),
      right: z.enum(PROCESS_RIGHTS).optional().describe('absent: the right the entry already has, or read for a new entry'),
    }),
  )
  .max(500);
/** An area's name: shown in every member's list, so nothing in it may disguise what it says (domain/files.ts). */
const areaName = nameText(200);

/**
 * Both kinds of principal come in two spellings: the original id lists (`allowedAccountIds`,
 * `allowedGroupIds`, no rights) or entries with rights (`allowedAccounts`, `allowedGroups`:
 * `[{ id, right? }]`). One spelling per kind and request.
 */
const accessFields = { allowedAccountIds: ids.optional(), allowedGroupIds: ids.optional(), allowedAccounts: entries.optional(), allowedGroups: entries.optional() };
type AccessFields = { allowedAccountIds?: string[]; allowedGroupIds?: string[]; allowedAccounts?: AccessRequest[]; allowedGroups?: AccessRequest[] };

function oneSpellingPerKind(v: AccessFields, ctx: z.RefinementCtx): void {
  if (v.allowedAccountIds && v.allowedAccounts) ctx.addIssue({ code: 'custom', path: ['allowedAccounts'], message: 'give allowedAccounts or allowedAccountIds, not both' });
  if (v.allowedGroupIds && v.allowedGroups) ctx.addIssue({ code: 'custom', path: ['allowedGroups'], message: 'give allowedGroups or allowedGroupIds, not both' });
}
const requested = (withRights: AccessRequest[] | undefined, bare: string[] | undefined): AccessRequest[] | undefined =>
  withRights ?? bare?.map((id) => ({ id }));

export const createProcessSchema = z
  .strictObject({ name: areaName, ...accessFields })
  .superRefine(oneSpellingPerKind)
  .transform((v) => ({ name: v.name, accounts: requested(v.allowedAccounts, v.allowedAccountIds) ?? [], groups: requested(v.allowedGroups, v.allowedGroupIds) ?? [] }));
export type CreateProcessInput = z.output<typeof createProcessSchema>;

export const updateProcessSchema = z
  .strictObject({ name: areaName.optional(), ...accessFields })
  .refine((v) => Object.keys(v).length > 0, 'at least one of name, allowedAccounts (or allowedAccountIds), allowedGroups (or allowedGroupIds) is required')
  .superRefine(oneSpellingPerKind)
  .transform((v) => ({ name: v.name, accounts: requested(v.allowedAccounts, v.allowedAccountIds), groups: requested(v.allowedGroups, v.allowedGroupIds) }));
export type UpdateProcessInput = z.output<typeof updateProcessSchema>;

/**
 * The access list to store from a request: an entry with a right gets it; one without keeps the
 * principal's current right, or gets `read` if it is new. An id listed twice gets the higher right.
 */
export function resolveAccess(requests: readonly AccessRequest[], current: readonly AccessEntry[]): AccessEntry[] {
  const now = new Map(current.map((e) => [e.id, e.right]));
  const named = new Map<string, ProcessRight[]>();
  for (const r of requests) named.set(r.id, [...(named.get(r.id) ?? []), ...(r.right ? [r.right] : [])]);
  return [...named].map(([id, rights]) => ({ id, right: highestRight(rights) ?? now.get(id) ?? DEFAULT_PROCESS_RIGHT }));
}

/**
 * Whether a new access list gives anyone more than the old one did: a principal not listed before,
 * or a higher right than they had. Such a change needs a fresh proof of who the caller is (a
 * session left open must not hand an area's records to someone); removing and lowering do not.
 */
export function grantsMoreAccess(before: readonly AccessEntry[], after: readonly AccessEntry[]): boolean {
  const had = new Map(before.map((e) => [e.id, PROCESS_RIGHTS.indexOf(e.right)]));
  return after.some((e) => PROCESS_RIGHTS.indexOf(e.right) > (had.get(e.id) ?? -1));
}

/** The creator always manages what they made, whatever the request says about them. */
export const accountsOnCreate = (creator: Viewer, requests: readonly AccessRequest[]): AccessEntry[] => [
  { id: creator.accountId, right: 'manage' },
  ...resolveAccess(requests, []).filter((e) => e.id !== creator.accountId),
];

export interface Viewer {
  accountId: string;
  roles: readonly string[];
}

const isAuditor = (viewer: Viewer) => viewer.roles.includes('auditor');
const isAdmin = (viewer: Viewer) => viewer.roles.includes('admin');

/** Admins see every area of a clinic that turned `adminsSeeAllProcesses` on; everyone else only where listed. */
export const seesEveryProcess = (viewer: Viewer, adminsSeeAllProcesses: boolean) => adminsSeeAllProcesses && isAdmin(viewer);

/**
 * What the viewer may do in an area, from the highest right its access list gives them (null when
 * it does not cover them): null means the area does not exist for them.
 */
export function effectiveRight(viewer: Viewer, listed: ProcessRight | null, adminsSeeAllProcesses: boolean): ProcessRight | null {
  if (listed === null && !seesEveryProcess(viewer, adminsSeeAllProcesses)) return null;
  if (isAuditor(viewer)) return 'read';
  return isAdmin(viewer) ? 'manage' : listed;
}

/** Who may create areas: the care team (admins, doctors, staff), never an auditor. */
export const mayCreateProcess = (viewer: Viewer) => !isAuditor(viewer) && hasAnyRole(viewer.roles, CARE_TEAM);

export interface ProcessArea {
  id: string;
  name: string;
  /** Every listed account and group, whatever its right (as before rights existed). */
  allowedAccountIds: string[];
  allowedGroupIds: string[];
  allowedAccounts: AccessEntry[];
  allowedGroups: AccessEntry[];
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
