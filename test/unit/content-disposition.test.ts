import { attachmentDisposition } from '../../api/content-disposition';

describe('Content-Disposition of downloads', () => {
  it('sends a plain ASCII name as filename alone', () => {
    expect(attachmentDisposition('audit-log-2026-12-07.csv')).toBe('attachment; filename="audit-log-2026-12-07.csv"');
  });

  it('sends any other name exactly as filename*, with an ASCII stand-in, Latin-1 letters included', () => {
    expect(attachmentDisposition('é.txt')).toBe(`attachment; filename="_.txt"; filename*=UTF-8''%C3%A9.txt`);
    expect(attachmentDisposition('¥3000.pdf')).toBe(`attachment; filename="_3000.pdf"; filename*=UTF-8''%C2%A53000.pdf`);
    expect(attachmentDisposition('紹介状.pdf')).toBe(`attachment; filename="___.pdf"; filename*=UTF-8''%E7%B4%B9%E4%BB%8B%E7%8A%B6.pdf`);
  });

  it('sends a name with a percent sign as filename* too, so that no browser decodes it into another name', () => {
    expect(attachmentDisposition('a%C3%A9.txt')).toBe(`attachment; filename="a%C3%A9.txt"; filename*=UTF-8''a%25C3%25A9.txt`);
  });

  it('never lets a quote, a backslash or a parenthesis break out of its parameter', () => {
    const header = attachmentDisposition(`a"b\\c'(d)*é.txt`);
    expect(header).toBe(`attachment; filename="a_b_c'(d)*_.txt"; filename*=UTF-8''a%22b%5Cc%27%28d%29%2A%C3%A9.txt`);
    expect(attachmentDisposition('a"b.txt')).toBe(`attachment; filename="a_b.txt"; filename*=UTF-8''a%22b.txt`);
  });
});
