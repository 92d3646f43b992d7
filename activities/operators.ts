import { Context } from '@temporalio/activity';
import type { Db } from '../db/connection';
import { findApiKey, findBreakGlassWindow, findOperator, markBreakGlassMailed, markLockoutNotified } from '../db/operators';
import { withPlatform } from '../db/platform-scope';
import { BREAK_GLASS_ALERT_WINDOW_SECONDS } from '../domain/operators';
import { MailRejectedError, type Mailer } from '../lib/mailer';
import type { BreakGlassAlertInput, BreakGlassAlertResult } from '../workflows/break-glass-alert';
import type { OperatorLockoutInput, OperatorLockoutResult } from '../workflows/operator-lockout';
import type { OperatorAccessNoticeInput, OperatorAccessNoticeResult } from '../workflows/operator-access-notice';
import { breakGlassMail, operatorAccessMail, operatorLockedMail } from './mail-templates/operator-alerts';

export interface OperatorActivitySettings {
  /** SECURITY_EMAILS. */
  securityEmails: string[];
}

export function createOperatorActivities(deps: { db: Db; mailer: Mailer; operators?: OperatorActivitySettings }) {
  /**
   * Sends one text to each address; an address that refuses mail (MailRejected) is final for it
   * and does not hold back the others: with the operator's own undeliverable address first, the
   * security team had heard nothing while that address was retried. Other errors are retried.
   */
  async function mailEach(to: string[], text: { subject: string; text: string }, what: string): Promise<number> {
    let mailed = 0;
    for (const address of to) {
      try {
        await deps.mailer.send({ to: address, ...text }, { signal: AbortSignal.timeout(10_000) });
        mailed += 1;
      } catch (err) {
        if (!(err instanceof MailRejectedError)) throw err;
        Context.current().log.warn(`an address refused the ${what}`, { code: err.code });
      }
    }
    return mailed;
  }

  return {
    /**
     * Mails the window's break-glass alert to every security address, once: the window's row
     * records that it was mailed, so a retry after that sends nothing. (A retry after a send
     * that the provider accepted but before the mark may send it again: a duplicate alert is
     * better than none.)
     */
    async sendBreakGlassAlert(input: BreakGlassAlertInput): Promise<BreakGlassAlertResult> {
      const windowStart = new Date(input.windowStart);
      const row = await withPlatform(deps.db, (trx) => findBreakGlassWindow(trx, windowStart));
      if (!row) return { outcome: 'window_missing', mailed: 0 };
      const to = deps.operators?.securityEmails ?? [];
      if (row.mailedAt) return { outcome: 'mailed', mailed: to.length };
      if (!to.length) {
        Context.current().log.error('no SECURITY_EMAILS configured: a break-glass use could not be mailed', { windowStart: input.windowStart });
        return { outcome: 'no_recipients', mailed: 0 };
      }
      const text = breakGlassMail({ firstAt: row.firstAt, firstIp: row.firstIp, routes: row.routes, windowMinutes: BREAK_GLASS_ALERT_WINDOW_SECONDS / 60 });
      const mailed = await mailEach(to, text, 'break-glass alert');
      await withPlatform(deps.db, (trx) => markBreakGlassMailed(trx, windowStart));
      return { outcome: 'mailed', mailed };
    },

    /**
     * Mails one lockout of an operator to the operator and the security addresses, once: the
     * operator's row records the last lockout notified (the same caveat as above about a retry
     * between the provider's acceptance and the mark).
     */
    async sendOperatorLockoutNotice(input: OperatorLockoutInput): Promise<OperatorLockoutResult> {
      const operator = await withPlatform(deps.db, (trx) => findOperator(trx, input.operatorId));
      if (!operator) return { outcome: 'operator_missing', mailed: 0 };
      const to = [operator.email, ...(deps.operators?.securityEmails ?? []).filter((a) => a !== operator.email)];
      if (operator.lockoutNotified >= input.lockout) return { outcome: 'mailed', mailed: to.length };
      const text = operatorLockedMail({ email: operator.email, lockedUntil: operator.lockedUntil });
      const mailed = await mailEach(to, text, 'operator lockout notice');
      await withPlatform(deps.db, (trx) => markLockoutNotified(trx, operator.id, input.lockout));
      return { outcome: 'mailed', mailed };
    },

    /**
     * Mails one widening of operator access to the security addresses, naming who did it and what
     * was given to whom. A retry after some addresses were mailed mails them again: a duplicate
     * alert is better than none (as the break-glass alert).
     */
    async sendOperatorAccessNotice(input: OperatorAccessNoticeInput): Promise<OperatorAccessNoticeResult> {
      const { target, actor, alsoTo } = await withPlatform(deps.db, async (trx) => {
        const operator = input.change === 'api_key_created' ? undefined : await findOperator(trx, input.targetId);
        const target = input.change === 'api_key_created' ? await findApiKey(trx, input.targetId).then((k) => k && `"${k.name}"`) : operator && `${operator.name} <${operator.email}>`;
        const actor = input.actorId ? await findOperator(trx, input.actorId).then((o) => o && `${o.name} <${o.email}>`) : undefined;
        // A reset also goes to the operator reset: they learn someone else holds a way into their account.
        const alsoTo = input.change === 'operator_reset' && operator ? [operator.email] : [];
        return { target, alsoTo, actor: actor ?? (input.via === 'break-glass' ? 'break-glass (OPERATOR_TOKEN)' : input.via === 'host' ? 'the host (npm run operator)' : input.via) };
      });
      if (!target) return { outcome: 'target_missing', mailed: 0 };
      const security = deps.operators?.securityEmails ?? [];
      const to = [...alsoTo, ...security.filter((a) => !alsoTo.includes(a))];
      if (!security.length) {
        Context.current().log.error('no SECURITY_EMAILS configured: a widening of operator access could not be mailed to security', { change: input.change, targetId: input.targetId });
        if (!to.length) return { outcome: 'no_recipients', mailed: 0 };
      }
      const text = operatorAccessMail({ change: input.change, actor, target, roles: input.roles, occurredAt: new Date(input.occurredAt) });
      return { outcome: 'mailed', mailed: await mailEach(to, text, 'operator access notice') };
    },
  };
}
