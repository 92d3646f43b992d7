import { formatJapanDateTime } from './japan-time';
import type { Patient } from './patient';

/**
 * One patient's clinical record as a self-contained HTML page (Japanese first, English below
 * each label), so a clinic can read and print it with any browser, years after leaving the
 * service (医師法第24条: records are kept five years). Everything that comes from data is
 * escaped; the page carries a policy that forbids scripts and every outside resource.
 */
export interface PatientRecordDocument {
  clinicName: string;
  exportedAt: string;
  patient: Patient;
  consultations: Array<{
    id: string;
    startsAt: string;
    endsAt: string;
    mode: string;
    status: string;
    practitioner: string;
    questionnaire: unknown;
    note: string | null;
    prescriptions: unknown;
    paymentAmount: number | null;
    paymentMethod: string | null;
    cancelReason: string | null;
    events: Array<{ type: string; status: string; at: string }>;
  }>;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: unknown): string => String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);

const STATUS: Record<string, string> = {
  reserved: '予約 reserved',
  checked_in: '受付済 checked in',
  waiting: '待機中 waiting',
  in_consultation: '診察中 in consultation',
  finished: '診察終了 finished',
  paid: '会計済 paid',
  completed: '完了 completed',
  cancelled: 'キャンセル cancelled',
  no_show: '来院なし no-show',
};
const MODE: Record<string, string> = { in_person: '対面 in person', online: 'オンライン online' };
const METHOD: Record<string, string> = { cash: '現金 cash', card: 'カード card', qr: 'QR コード QR code', invoice: '請求書 invoice' };

const YEN = new Intl.NumberFormat('ja-JP');

/** A bilingual label; the same few dozen labels recur on every page of an export, so each is built once. */
const labels = new Map<string, string>();
const label = (ja: string, en: string) => {
  const key = `${ja}\u0000${en}`;
  let html = labels.get(key);
  if (html === undefined) {
    html = `${escapeHtml(ja)}<span class="en">${escapeHtml(en)}</span>`;
    // Labels with data in them (a consultation's number, the export time) are few per page; bounded anyway.
    if (labels.size < 1_000) labels.set(key, html);
  }
  return html;
};
/** An instant as Japan time for people, with the stored UTC value beside it. */
const when = (iso: string) => `${escapeHtml(formatJapanDateTime(new Date(iso)))} <span class="en">JST (${escapeHtml(iso)})</span>`;
const text = (value: string | null) => (value === null || value === '' ? '<span class="none">—</span>' : `<div class="text">${escapeHtml(value)}</div>`);

/** Structured answers (questionnaire, one prescription): a key/value table; nested values as JSON. */
function keyValues(value: unknown): string {
  if (value === null || value === undefined) return '<span class="none">—</span>';
  if (typeof value !== 'object' || Array.isArray(value)) return `<div class="text">${escapeHtml(typeof value === 'string' ? value : JSON.stringify(value))}</div>`;
  const rows = Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(typeof v === 'string' ? v : JSON.stringify(v))}</td></tr>`)
    .join('');
  return rows ? `<table class="kv">${rows}</table>` : '<span class="none">—</span>';
}

function prescriptions(value: unknown): string {
  if (!Array.isArray(value) || value.length === 0) return value === null || value === undefined || Array.isArray(value) ? '<span class="none">—</span>' : keyValues(value);
  return `<ol>${value.map((p) => `<li>${keyValues(p)}</li>`).join('')}</ol>`;
}

const STYLE = `body{font-family:"Hiragino Sans","Yu Gothic","Meiryo",sans-serif;margin:2em;line-height:1.5;color:#111}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #999;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;white-space:nowrap}.en{color:#666;font-size:.85em;margin-left:.4em}.none{color:#999}
.text{white-space:pre-wrap}section.visit{page-break-inside:avoid}footer{margin-top:3em;color:#666;font-size:.85em}`;

export function renderPatientRecord(doc: PatientRecordDocument): string {
  const p = doc.patient;
  const row = (ja: string, en: string, value: string) => `<tr><th>${label(ja, en)}</th><td>${value}</td></tr>`;
  const visits = doc.consultations.map((c, i) => {
    const payment = c.paymentAmount === null ? '<span class="none">—</span>' : `${escapeHtml(YEN.format(c.paymentAmount))} 円 / ${escapeHtml(METHOD[c.paymentMethod ?? ''] ?? c.paymentMethod ?? '')}`;
    const timeline = c.events.length
      ? `<table><tr><th>${label('日時', 'At')}</th><th>${label('出来事', 'Event')}</th><th>${label('状態', 'Status')}</th></tr>${c.events
          .map((e) => `<tr><td>${when(e.at)}</td><td>${escapeHtml(e.type)}</td><td>${escapeHtml(STATUS[e.status] ?? e.status)}</td></tr>`)
          .join('')}</table>`
      : '<span class="none">—</span>';
    return `<section class="visit"><h2>${label(`診察 ${i + 1}`, `Consultation ${i + 1}`)}: ${escapeHtml(formatJapanDateTime(new Date(c.startsAt)))}</h2>
<table>
${row('日時', 'Date and time', `${when(c.startsAt)} – ${when(c.endsAt)}`)}
${row('医師', 'Doctor', escapeHtml(c.practitioner))}
${row('形態', 'Mode', escapeHtml(MODE[c.mode] ?? c.mode))}
${row('状態', 'Status', escapeHtml(STATUS[c.status] ?? c.status))}
${row('問診', 'Questionnaire', keyValues(c.questionnaire))}
${row('診療記録', 'Clinical note', text(c.note))}
${row('処方', 'Prescriptions', prescriptions(c.prescriptions))}
${row('会計', 'Payment', payment)}
${c.cancelReason === null ? '' : row('キャンセル理由', 'Cancel reason', text(c.cancelReason))}
${row('経過', 'Timeline', timeline)}
${row('診察 ID', 'Consultation id', escapeHtml(c.id))}
</table></section>`;
  });
  return `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(`診療記録 ${p.patientNumber} ${p.name}`)}</title><style>${STYLE}</style></head>
<body>
<h1>${label('診療記録', 'Clinical record')}: ${escapeHtml(p.name)}</h1>
<p>${escapeHtml(doc.clinicName)}</p>
<h2>${label('患者情報', 'Patient')}</h2>
<table>
${row('患者番号', 'Patient number', escapeHtml(p.patientNumber))}
${row('氏名', 'Name', escapeHtml(p.name))}
${row('フリガナ', 'Kana', escapeHtml(p.kana))}
${row('生年月日', 'Birth date', escapeHtml(p.birthDate))}
${row('電話', 'Phone', text(p.phone))}
${row('メール', 'E-mail', text(p.email))}
${row('住所', 'Address', text(p.address))}
${row('登録日時', 'Registered', when(p.createdAt))}
${row('更新日時', 'Last updated', when(p.updatedAt))}
${row('患者 ID', 'Patient id', escapeHtml(p.id))}
</table>
${visits.length ? visits.join('\n') : `<p>${label('診察の記録はありません。', 'No consultations.')}</p>`}
<footer>${label(`${formatJapanDateTime(new Date(doc.exportedAt))} (日本時間) に FOR CLINIC から書き出し`, `Exported from FOR CLINIC at ${doc.exportedAt}`)}</footer>
</body></html>
`;
}

/** One row of records/index.html: the patient's number, name, kana, birth date and a link to their page. */
export function patientIndexRow(path: string, p: Patient, consultations: number): string {
  const href = path.replace(/^records\//, '');
  return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(p.patientNumber)}</a></td><td>${escapeHtml(p.name)}</td><td>${escapeHtml(p.kana)}</td><td>${escapeHtml(p.birthDate)}</td><td>${consultations}</td></tr>\n`;
}

export function patientIndexHead(clinicName: string): string {
  return `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(`患者一覧 ${clinicName}`)}</title><style>${STYLE}</style></head>
<body><h1>${label('患者一覧', 'Patients')}: ${escapeHtml(clinicName)}</h1>
<p>${label('患者番号を押すと、その患者の診療記録が開きます。ブラウザの検索 (Ctrl+F) で氏名を探せます。', 'Open a patient\'s record by their number; find a name with the browser\'s search (Ctrl+F).')}</p>
<table><tr><th>${label('患者番号', 'Number')}</th><th>${label('氏名', 'Name')}</th><th>${label('フリガナ', 'Kana')}</th><th>${label('生年月日', 'Birth date')}</th><th>${label('診察数', 'Consultations')}</th></tr>
`;
}

export const patientIndexFoot = () => '</table></body></html>\n';
