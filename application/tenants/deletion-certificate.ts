import { recordOperatorAction } from '../../db/backups';
import { findPurgeRecord } from '../../db/contracts';
import { canonicalJson } from '../../domain/canonical-json';
import { notFound } from '../../domain/problems';
import type { Actor, Services } from '../deps';

export interface DeletionCertificate {
  certificate: Record<string, unknown>;
  /** The exact text the hash and the signature cover (canonical JSON of `certificate`). */
  canonical: string;
  sha256: string;
  signature: string;
  issuedAt: string;
  mailedAt: string | null;
}

/** A purged clinic's deletion certificate (404 until it is issued); reading it is logged in the operators' log. */
export async function readDeletionCertificate(deps: Pick<Services, 'db'>, actor: Actor, tenantId: string): Promise<DeletionCertificate> {
  const record = await findPurgeRecord(deps.db, tenantId);
  if (!record || record.state !== 'issued' || !record.certificate) throw notFound('No deletion certificate for this clinic (yet).');
  await recordOperatorAction(deps.db, actor.audit, { action: 'tenant.deletion_certificate.read', targetType: 'tenant', targetId: tenantId });
  return {
    certificate: record.certificate,
    canonical: canonicalJson(record.certificate),
    sha256: record.sha256!,
    signature: record.signature!,
    issuedAt: new Date(record.issuedAt!).toISOString(),
    mailedAt: record.mailedAt ? new Date(record.mailedAt).toISOString() : null,
  };
}
