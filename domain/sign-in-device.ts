/**
 * What a sign-in notice may say about the device: a browser and a system from a fixed list, never
 * the user agent's own text. The header is the client's to write, so quoting it would let anyone
 * who knows (or guesses) a password put their words — "call this number", a link — into a mail
 * that comes from us. Order matters: Edge and Opera also say Chrome, Chrome also says Safari, and
 * iPads may say Macintosh.
 */
const BROWSERS: Array<[RegExp, string]> = [
  [/\bEdg(?:e|A|iOS)?\//, 'Microsoft Edge'],
  [/\bOPR\/|\bOpera\b/, 'Opera'],
  [/\bSamsungBrowser\//, 'Samsung Internet'],
  [/\bFirefox\/|\bFxiOS\//, 'Firefox'],
  [/\bChrome\/|\bCriOS\//, 'Chrome'],
  [/\bVersion\/[\d.]+.*\bSafari\//, 'Safari'],
];

const SYSTEMS: Array<[RegExp, string]> = [
  [/\bAndroid\b/, 'Android'],
  [/\biPad\b/, 'iPadOS'],
  [/\biPhone\b|\biPod\b/, 'iOS'],
  [/\bCrOS\b/, 'ChromeOS'],
  [/\bWindows\b/, 'Windows'],
  [/\bMacintosh\b|\bMac OS X\b/, 'macOS'],
  [/\bLinux\b/, 'Linux'],
];

export interface DeviceDescription {
  /** One of BROWSERS' names, or null when none matched. */
  browser: string | null;
  system: string | null;
}

export function describeDevice(userAgent: string | null | undefined): DeviceDescription {
  const ua = userAgent ?? '';
  return {
    browser: BROWSERS.find(([re]) => re.test(ua))?.[1] ?? null,
    system: SYSTEMS.find(([re]) => re.test(ua))?.[1] ?? null,
  };
}

/**
 * How far apart two addresses may be and still count as one network when deciding whether a
 * sign-in is from somewhere new: an IPv4 /24 or an IPv6 /48 (a site's prefix), so that a
 * provider moving a home line to a neighbouring address does not mail its holder every day.
 */
export const SIGN_IN_NETWORK_PREFIX = { v4: 24, v6: 48 } as const;

/**
 * Whether two user agents are the same device for a sign-in notice: the same browser and system
 * when the list names either (a browser's monthly update changes its version, not the device:
 * comparing the text would mail every holder after every update), the same text otherwise.
 */
export function sameDevice(a: string | null | undefined, b: string | null | undefined): boolean {
  const [da, db] = [describeDevice(a), describeDevice(b)];
  if (da.browser || da.system || db.browser || db.system) return da.browser === db.browser && da.system === db.system;
  return (a ?? null) === (b ?? null);
}
