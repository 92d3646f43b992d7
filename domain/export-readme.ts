import { escapeHtml } from './patient-record-document';

/**
 * The texts that explain an export archive to whoever opens it, years later, without this
 * software: README.txt (every file and every column) and files/index.html (which stored file is
 * which). Japanese first, English below.
 */
export interface ReadmeTable {
  name: string;
  description: string;
  rows: number;
  columns: Array<{ name: string; description: string }>;
  omitted?: Record<string, string>;
}

export interface ReadmeInput {
  clinicName: string;
  exportId: string;
  exportedAt: string;
  tables: ReadmeTable[];
  excluded: Record<string, string>;
  patients: number;
  files: number;
  /** Process files whose stored copy was not found (process_files.id): listed, not in files/. */
  missingFiles: string[];
}

export function renderArchiveReadme(r: ReadmeInput): string {
  const lines: string[] = [
    `FOR CLINIC データ書き出し / Full data export`,
    `クリニック / Clinic: ${r.clinicName}`,
    `書き出し ID / Export id: ${r.exportId}`,
    `書き出し日時 / Exported at: ${r.exportedAt} (UTC)`,
    '',
    'このアーカイブには、クリニックのすべての記録が、このソフトウェアなしで読める形で入っています。',
    '暗号化されていた項目 (患者の個人情報、問診、診療記録、処方、ファイル名など) は復号済みです。取り扱いにご注意ください。',
    'This archive holds every record of the clinic in forms readable without this software. Values that were encrypted',
    'in the service (patients\' personal data, questionnaires, notes, prescriptions, file names) are opened: handle with care.',
    '',
    '== 中身 / Contents ==',
    'README.txt               この説明 / this description',
    'manifest.json            全ファイルの SHA-256 と大きさ (この 2 つを除く) / SHA-256 and size of every file (but these two)',
    'SHA256SUMS.txt           同じ内容を sha256sum -c の形式で / the same, for `sha256sum -c`',
    'records/index.html       患者一覧 (各患者の診療記録へのリンク) / patient list, linking each patient\'s record',
    'records/NNNN/*.html      患者ごとの診療記録 (患者情報、診察、問診、診療記録、処方、会計、経過) / one clinical record per patient',
    'files/index.html         プロセスのファイル一覧 (元のファイル名) / list of process files with their original names',
    'files/<プロセス ID>/<ファイル ID>.<拡張子>  登録されたときのままのファイル / the files exactly as uploaded',
    'tables/<表>.csv          表ごとの CSV (UTF-8 BOM 付き, CRLF, 1 行目は列名) / one CSV per table (UTF-8 with BOM, CRLF, header row)',
    'tables/<表>.jsonl        同じ行を JSON Lines で (1 行 1 レコード) / the same rows as JSON Lines (one record per line)',
    '',
    '== 形式 / Formats ==',
    '- 日時は UTC の ISO 8601 (末尾 Z)。診療記録の HTML は日本時間と UTC を併記。',
    '  Instants are UTC, ISO 8601 ending in Z; the HTML records show Japan time with UTC beside it.',
    '- CSV: = + - @ タブ 改行 で始まる文字列には先頭に \' を付けています (表計算ソフトで数式として実行されないため)。',
    '  元の値は JSON Lines にそのまま入っています。',
    '  CSV: a text starting with = + - @, tab or CR has a leading \' so spreadsheets do not run it as a formula;',
    '  JSON Lines keep every value exactly as stored.',
    '- CSV の空欄は値なし (NULL)。配列と JSON は JSON の文字列。',
    '  An empty CSV cell is no value (NULL); arrays and JSON values are JSON text.',
    '- 各表は 1 つの一貫した時点で読み出しています。書き出し中にクリニックが操作を続けた場合、表どうしの時点は数分ずれることがあります',
    '  (患者・診察・診察の経過と診療記録 records/ は同じ 1 時点です)。契約終了後の閲覧専用期間の書き出しではずれは生じません。',
    '  Each table is read as one consistent snapshot. If the clinic kept working during the export, tables may be',
    '  minutes apart (patients, consultations, their timelines and the record documents in records/ are one snapshot',
    '  together); exports made while the clinic is read-only after its contract ended have no such difference.',
    '- consultations は患者ごと (patients の順) に古い順、consultation_events は診察ごとに並んでいます。',
    '  consultations are grouped by patient (in patients\' order), oldest first; consultation_events by consultation.',
    '',
    `患者 / Patients: ${r.patients}    ファイル / Files: ${r.files}`,
    ...(r.missingFiles.length
      ? [
          '',
          `!! 保存先に見つからない、または破損して読み出せなかったファイル (files/ にありません。files/index.html に理由) / Files missing from storage or damaged there (not in files/; files/index.html says which): ${r.missingFiles.length}`,
          ...r.missingFiles.map((id) => `   process_files.id = ${id}`),
        ]
      : []),
    '',
    '== 表と列 / Tables and columns ==',
  ];
  for (const t of r.tables) {
    lines.push('', `tables/${t.name}.csv, tables/${t.name}.jsonl  (${t.rows} 行 / rows)`, `  ${t.description}`);
    for (const c of t.columns) lines.push(`  - ${c.name}: ${c.description}`);
    for (const [name, why] of Object.entries(t.omitted ?? {})) lines.push(`  (入れていない列 / not exported: ${name} — ${why})`);
  }
  lines.push('', '== 入れていない表 / Tables not exported ==');
  for (const [name, why] of Object.entries(r.excluded)) lines.push(`- ${name}: ${why}`);
  lines.push('', '== 確かめ方 / Checking the files ==',
    'Linux/macOS: sha256sum -c SHA256SUMS.txt (macOS: shasum -a 256 -c SHA256SUMS.txt)',
    'Windows PowerShell: Get-FileHash -Algorithm SHA256 <ファイル / file>  (manifest.json の値と比べる / compare with manifest.json)', '');
  return `\uFEFF${lines.join('\r\n')}`;
}

export function fileIndexHead(clinicName: string): string {
  return `<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'">
<title>${escapeHtml(`ファイル一覧 ${clinicName}`)}</title></head>
<body><h1>ファイル一覧 <small>Files</small>: ${escapeHtml(clinicName)}</h1>
<table border="1" cellpadding="4"><tr><th>プロセス<br><small>Process area</small></th><th>ファイル名<br><small>File name</small></th><th>種類<br><small>Type</small></th><th>バイト<br><small>Bytes</small></th><th>このアーカイブ内<br><small>In this archive</small></th></tr>
`;
}

/** `path` null: the stored copy was missing when the archive was made. */
export function fileIndexRow(path: string | null, processName: string, fileName: string, contentType: string, bytes: number, why: 'missing' | 'unreadable' = 'missing'): string {
  const absent = why === 'missing' ? '保存先に見つかりません / missing from storage' : '保存先で破損しており読み出せません / damaged in storage, cannot be read';
  const where = path === null ? absent : `<a href="${escapeHtml(path.replace(/^files\//, ''))}">${escapeHtml(path)}</a>`;
  return `<tr><td>${escapeHtml(processName)}</td><td>${escapeHtml(fileName)}</td><td>${escapeHtml(contentType)}</td><td>${bytes}</td><td>${where}</td></tr>\n`;
}

export const fileIndexFoot = () => '</table></body></html>\n';
