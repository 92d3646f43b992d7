import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ContractState } from '../domain/contract';

/**
 * Messages of the contract-end workflow, shared by the application layer (through the outbox) and
 * the workflow. The signal carries no facts: the database is the authority (the end date, the
 * legal hold), and the workflow reloads it whenever it hears this, so signals delivered twice or
 * out of order change nothing.
 */
export const CONTRACT_CHANGED = 'contractChanged';
export const contractChangedSignal = defineSignal<[]>(CONTRACT_CHANGED);

export interface ContractEndProgress {
  state: ContractState | 'cancelled' | 'missing';
  /** The end the plan is for (UTC ISO), null when none. */
  endsAt: string | null;
  /** The step the workflow waits for, and when it is due (UTC ISO). */
  next: { kind: string; at: string } | null;
  legalHold: boolean;
  noticesSent: number;
}

export const contractEndProgressQuery = defineQuery<ContractEndProgress>('contractEndProgress');
