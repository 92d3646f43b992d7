import { STRONG_PASSWORD } from '../harness/clinic';
import { slotOn } from '../harness/slots';
import { callWithRetry, type Attempt, type Exchange, type Outcome } from './retrying-client';

/**
 * The load: several front ends at once, each a desk of its own clinic, booking consultations one
 * slot after another, checking in every other booking (a lifecycle update), and every fifth round
 * creating an account (its onboarding workflow). Each call retries with the same Idempotency-Key
 * (retrying-client.ts). Every operation is recorded with the fault phase it started in.
 */
export interface LoadClinic {
  tenantId: string;
  adminToken: string;
  staffToken: string;
  practitionerId: string;
  patientId: string;
  patientEmail: string;
}

export type OpKind = 'book' | 'checkIn' | 'account';

export interface OpRecord {
  kind: OpKind;
  phase: string;
  clinic: number;
  key: string;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  attempts: Attempt[];
  /** An attempt before the last ended without a settled answer: the request may have acted already. */
  retried: boolean;
  consultationId?: string;
  startsAt?: string;
  loginId?: string;
  accountId?: string;
}

/** Slot `n` of a clinic's doctor (5-minute slots 09:00–17:55 Japan time), from the day after tomorrow on. */
export function nthSlot(n: number, now: Date): string {
  const perDay = 108;
  const minute = 9 * 60 + 5 * (n % perDay);
  const time = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
  return slotOn(2 + Math.floor(n / perDay), time, now);
}

export class LoadGenerator {
  readonly records: OpRecord[] = [];
  phase = 'baseline';
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly now = new Date();

  constructor(private readonly o: { apiUrls: () => string[]; clinics: LoadClinic[]; runId: string; paceMs: number }) {}

  start(): void {
    this.loops = this.o.clinics.map((clinic, i) => this.desk(clinic, i));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private async op(kind: OpKind, clinic: number, key: string, send: () => Promise<Exchange>): Promise<{ record: OpRecord; exchange: Exchange }> {
    const startedAt = Date.now();
    const phase = this.phase;
    const exchange = await send();
    const record: OpRecord = {
      kind, phase, clinic, key, startedAt, endedAt: Date.now(), outcome: exchange.outcome, attempts: exchange.attempts,
      retried: exchange.attempts.length > 1,
    };
    this.records.push(record);
    return { record, exchange };
  }

  private async desk(c: LoadClinic, i: number): Promise<void> {
    const { apiUrls, runId } = this.o;
    for (let n = 0; !this.stopped; n += 1) {
      const startsAt = nthSlot(n, this.now);
      const bookKey = `${runId}-c${i}-book-${n}`;
      const booked = await this.op('book', i, bookKey, () =>
        callWithRetry(apiUrls, 'POST', '/v1/consultations', {
          token: c.staffToken,
          idempotencyKey: bookKey,
          json: { patientId: c.patientId, practitionerId: c.practitionerId, startsAt, mode: 'in_person' },
        }),
      );
      booked.record.startsAt = startsAt;
      if (booked.exchange.outcome === 201) booked.record.consultationId = booked.exchange.body.id;
      if (booked.record.consultationId && n % 2 === 1) {
        const key = `${runId}-c${i}-checkin-${n}`;
        const checkedIn = await this.op('checkIn', i, key, () =>
          callWithRetry(apiUrls, 'POST', `/v1/consultations/${booked.record.consultationId}/check-in`, { token: c.staffToken, idempotencyKey: key }),
        );
        checkedIn.record.consultationId = booked.record.consultationId;
      }
      if (n % 5 === 0) {
        // Account creation takes no Idempotency-Key (its initial password is answered once); the
        // login ID is unique per clinic, so a retry after a lost answer is refused 409 login_id_taken.
        // A new account needs the admin's proof of the last 5 minutes: past it, the admin confirms
        // the password once (POST /v1/auth/reauthenticate) and sends it again, as a front end does.
        const loginId = `u-${runId}-${i}-${n}`.toLowerCase();
        const create = () =>
          callWithRetry(apiUrls, 'POST', '/v1/accounts', {
            token: c.adminToken,
            json: { loginId, email: `${loginId}@cluster.example`, displayName: `User ${n}`, roles: ['staff'] },
          });
        const made = await this.op('account', i, loginId, async () => {
          const first = await create();
          if (first.outcome !== 403 || first.body?.code !== 'reauthentication_required') return first;
          await callWithRetry(apiUrls, 'POST', '/v1/auth/reauthenticate', { token: c.adminToken, json: { password: STRONG_PASSWORD } });
          const again = await create();
          return { ...again, attempts: [...first.attempts, ...again.attempts] };
        });
        made.record.loginId = loginId;
        if (made.exchange.outcome === 201) made.record.accountId = made.exchange.body.accountId;
      }
      // Pacing, so that the load is steady and the machine keeps room for the faults' recovery.
      if (this.o.paceMs > 0) await new Promise((r) => setTimeout(r, this.o.paceMs));
    }
  }
}
