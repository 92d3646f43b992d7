import { hash, verify } from '@node-rs/argon2';
import { tooManyRequests } from '../domain/problems';
import { tooLongToVerify } from '../domain/sign-in';

/**
 * argon2id with OWASP's recommended minimum (19 MiB, 2 iterations, 1 lane): about 60 ms per
 * hash on one core here. Parameters travel inside each hash, so raising them later only
 * affects new hashes (and `needsRehash` tells when to upgrade an old one at login).
 */
// 2 = Algorithm.Argon2id (a const enum, which isolated modules cannot import).
export const ARGON2_PARAMS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface PasswordHasherLimits {
  /** argon2 computations running at once (each holds 19 MiB and a libuv thread). */
  concurrency: number;
  /** Computations allowed to wait for a slot; one more is refused with 429 rate_limited. */
  queue: number;
}

/**
 * Every argon2 computation of the process goes through one hasher, which runs at most
 * `concurrency` of them and lets at most `queue` more wait: a burst of logins costs bounded
 * memory and answers `429 rate_limited` (Retry-After: 1) instead of piling up. Never call it
 * while a database transaction is open: it is slow on purpose.
 */
export class PasswordHasher {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private dummy: Promise<string> | undefined;

  constructor(private readonly limits: PasswordHasherLimits) {}

  hash(password: string): Promise<string> {
    return this.limited(() => hash(password, ARGON2_PARAMS));
  }

  async verify(hashed: string, password: string): Promise<boolean> {
    return this.limited(async () => {
      try {
        return await verify(hashed, password);
      } catch {
        return false;
      }
    });
  }

  /**
   * The cost of one verification, spent on a throw-away hash and a fixed input: what a login
   * pays when there is no account, or the password is too long to be worth hashing, so those
   * answers cannot be told from a wrong password by a stopwatch.
   */
  async burn(): Promise<false> {
    this.dummy ??= hash(DUMMY_INPUT, ARGON2_PARAMS);
    await this.verify(await this.dummy, DUMMY_INPUT);
    return false;
  }

  /**
   * A candidate checked against the stored hash, if there is one and the candidate is not too
   * long to be worth hashing; otherwise the same dummy work and false. Whatever the case, one
   * verification's cost: an unknown login ID and an overlong password look like a wrong password.
   */
  check(hashed: string | undefined, candidate: string): Promise<boolean> {
    return hashed === undefined || tooLongToVerify(candidate) ? this.burn() : this.verify(hashed, candidate);
  }

  /** What is running and waiting now (for tests and diagnostics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queue) {
        throw tooManyRequests('rate_limited', 'The server is busy checking passwords. Try again in a moment.', 1);
      }
      // The slot is handed over by the finishing computation (running stays counted).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/** As long as a typical password, so the dummy verification costs what a real one does. */
const DUMMY_INPUT = 'not-a-real-password-0123456789';
