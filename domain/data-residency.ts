import { isIP } from 'node:net';

/**
 * Data stays in Japan (a promise to clinics). Every endpoint that stores or carries customer data
 * — the databases, Temporal (workflow histories), object storage, KMS and SES — is judged by its
 * host name:
 * - inside our own network (loopback, private addresses, single-label or internal names such as a
 *   compose service `postgres`): it is where the service runs, so it follows the deployment's
 *   region, which AWS_REGION already pins;
 * - a cloud endpoint that names its region (`…ap-northeast-1.rds.amazonaws.com`,
 *   `kms.ap-northeast-1.amazonaws.com`, `ap-northeast-1.aws.api.temporal.io`, GCP `asia-northeast1`,
 *   Azure `japaneast`): that region must be in Japan;
 * - anything else (a public name or address that says nothing of where it is, such as a Temporal
 *   Cloud namespace endpoint `<ns>.<account>.tmprl.cloud`): refused unless an operator attests it
 *   is in Japan by listing it in DATA_RESIDENCY_ATTESTED_HOSTS, so that no new endpoint slips in
 *   unexamined.
 */
export const JAPAN_REGIONS = ['ap-northeast-1', 'ap-northeast-3'] as const;
const JAPAN_CLOUD_REGIONS = new Set<string>([...JAPAN_REGIONS, 'asia-northeast1', 'asia-northeast2', 'japaneast', 'japanwest']);

// AWS (and Temporal Cloud on AWS) `xx-name-N`, GCP `name-nameN`, Azure `namename` regions as they appear in host labels.
const AWS_REGION = /^(?:us|eu|ap|sa|ca|me|af|il|mx|cn)-(?:[a-z]+-)?[a-z]+-\d$/;
const GCP_REGION = /^(?:asia|australia|europe|me|northamerica|southamerica|us|africa)-[a-z]+\d$/;
const AZURE_REGIONS = /^(?:japaneast|japanwest|eastus2?|westus[23]?|centralus|northeurope|westeurope|uksouth|ukwest|southeastasia|eastasia|koreacentral|australiaeast|canadacentral|francecentral|germanywestcentral|brazilsouth|centralindia)$/;

export type Placement =
  | { kind: 'internal' }
  | { kind: 'region'; region: string; inJapan: boolean }
  | { kind: 'unknown' };

/** Where a host is, as far as its name tells. */
export function placementOf(host: string): Placement {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (isIP(h)) return isInternalAddress(h) ? { kind: 'internal' } : { kind: 'unknown' };
  if (h === 'localhost' || !h.includes('.') || /\.(?:internal|local|localhost|svc|lan|home\.arpa)$/.test(h) || h.endsWith('.svc.cluster.local')) {
    return { kind: 'internal' };
  }
  for (const label of h.split('.')) {
    if (AWS_REGION.test(label) || GCP_REGION.test(label) || AZURE_REGIONS.test(label)) {
      return { kind: 'region', region: label, inJapan: JAPAN_CLOUD_REGIONS.has(label) };
    }
  }
  return { kind: 'unknown' };
}

function isInternalAddress(ip: string): boolean {
  if (isIP(ip) === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = ip.toLowerCase();
  if (v6 === '::1') return true;
  if (v6.startsWith('::ffff:')) return isInternalAddress(v6.slice(7));
  return /^f[cd][0-9a-f]{2}:/.test(v6) || /^fe[89ab][0-9a-f]:/.test(v6);
}

/** The host of a URL (`postgres://…`, `https://…`) or of `host:port`. */
export function hostOf(endpoint: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) return URL.canParse(endpoint) ? new URL(endpoint).hostname : undefined;
  const m = /^(\[[^\]]+\]|[^:]+)(?::\d+)?$/.exec(endpoint);
  return m?.[1];
}

/**
 * What is wrong with one endpoint's location, or undefined when it may hold customer data.
 * `attested` are hosts an operator has declared to be in Japan.
 */
export function residencyProblem(endpoint: string, attested: readonly string[]): string | undefined {
  const host = hostOf(endpoint);
  if (!host) return undefined; // malformed endpoints are refused by their own check
  const placement = placementOf(host);
  if (placement.kind === 'internal') return undefined;
  if (placement.kind === 'region') {
    return placement.inJapan ? undefined : `is in ${placement.region}; customer data must stay in Japan (${JAPAN_REGIONS.join(' or ')})`;
  }
  if (attested.map((a) => a.toLowerCase()).includes(host.toLowerCase())) return undefined;
  return `(${host}) does not say where it is: use an endpoint that names a Japanese region, or list the host in DATA_RESIDENCY_ATTESTED_HOSTS once you have confirmed it stores data in Japan`;
}
