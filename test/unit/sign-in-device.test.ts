import { signInNoticeMail } from '../../activities/mail-templates/sign-in-notice';
import { describeDevice, sameDevice } from '../../domain/sign-in-device';

describe('the device a sign-in notice names', () => {
  it.each([
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome', 'Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86', 'Microsoft Edge', 'Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'Safari', 'macOS'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1', 'Safari', 'iOS'],
    ['Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1', 'Chrome', 'iPadOS'],
    ['Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36', 'Samsung Internet', 'Android'],
    ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox', 'Linux'],
    ['Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36', 'Chrome', 'ChromeOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/115.0.0.0', 'Opera', 'Windows'],
  ])('%s → %s on %s', (ua, browser, system) => {
    expect(describeDevice(ua)).toEqual({ browser, system });
  });

  it('names nothing it does not know, and never the client\'s own text', () => {
    expect(describeDevice(undefined)).toEqual({ browser: null, system: null });
    expect(describeDevice('curl/8.5.0')).toEqual({ browser: null, system: null });
    expect(describeDevice('請求書はこちら https://evil.example/')).toEqual({ browser: null, system: null });
  });
});

describe('the same device', () => {
  const chrome = (v: number, os = 'Windows NT 10.0; Win64; x64') => `Mozilla/5.0 (${os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`;
  it('is the same browser and system, whatever their versions (a browser updates every month)', () => {
    expect(sameDevice(chrome(131), chrome(132))).toBe(true);
    expect(sameDevice(chrome(131), chrome(131, 'Macintosh; Intel Mac OS X 10_15_7'))).toBe(false);
    expect(sameDevice(chrome(131), `${chrome(131)} Edg/131.0.2903.86`)).toBe(false);
  });
  it('is the same text when the list names neither', () => {
    expect(sameDevice('curl/8.5.0', 'curl/8.5.0')).toBe(true);
    expect(sameDevice('curl/8.5.0', 'curl/8.6.0')).toBe(false);
    expect(sameDevice(null, undefined)).toBe(true);
    expect(sameDevice(null, 'curl/8.5.0')).toBe(false);
    expect(sameDevice('curl/8.5.0', chrome(131))).toBe(false);
  });
});

describe('the sign-in notice', () => {
  const at = new Date('2026-12-07T15:30:00Z');
  it('says when (in Japan), from where and with what, Japanese first, and what to do if it was not you', () => {
    const mail = signInNoticeMail({ clinicName: 'さくらクリニック', loginId: 'tanaka', at, clientIp: '198.51.100.23', device: { browser: 'Safari', system: 'iOS' } });
    expect(mail.subject).toBe('[FOR CLINIC] さくらクリニック: 新しい端末からのログイン / A sign-in from a new device');
    const japaneseEnds = mail.text.indexOf('The login ID');
    const [ja, en] = [mail.text.slice(0, japaneseEnds), mail.text.slice(japaneseEnds)];
    expect(ja).toContain('日時: 2026-12-08 00:30（日本時間）');
    expect(ja).toContain('接続元 IP アドレス: 198.51.100.23');
    expect(ja).toContain('ブラウザ / OS: Safari / iOS');
    expect(ja).toContain('パスワードを変更');
    expect(en).toContain('When: 2026-12-08 00:30 (Japan time)');
    expect(en).toContain('Browser and system: Safari on iOS');
    expect(en).toContain('change your password');
    expect(mail.text).not.toMatch(/https?:/);
  });

  it('says unknown where nothing is known', () => {
    const mail = signInNoticeMail({ clinicName: 'C', loginId: 'x', at, clientIp: null, device: { browser: null, system: null } });
    expect(mail.text).toContain('ブラウザ / OS: 不明');
    expect(mail.text).toContain('IP address: unknown');
    expect(mail.text).toContain('Browser and system: unknown');
  });
});
