import type { RelyingParty } from '../passkeys/ceremony';
import type { OperatorSessionTiming } from '../../domain/operators';
import type { Services } from '../deps';

/** What the operators' identity use cases run on, beyond the common services. */
export interface OperatorIdentitySettings {
  session: OperatorSessionTiming;
  /** The operators' relying party (OPERATOR_WEBAUTHN_*, defaulting to WEBAUTHN_*). */
  webauthn: RelyingParty;
  /** The break-glass token when break-glass is enabled (OPERATOR_BREAK_GLASS), else undefined. */
  breakGlassToken: string | undefined;
  /** Failed logins per window: per client network, per e-mail address (whether or not it exists). */
  loginFailuresPerIp: number;
  loginFailuresPerAccount: number;
  loginRateWindowSeconds: number;
  /** The HMAC key that stands for e-mail addresses in the throttles' keys (LOGIN_ID_HMAC_KEY). */
  loginIdKey: string;
}

export type OperatorDeps = Pick<Services, 'db' | 'outbox' | 'passwords' | 'securityEvents'> & { operators: OperatorIdentitySettings };
