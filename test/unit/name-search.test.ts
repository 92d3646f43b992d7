import { normaliseName, searchPrefixes } from '../../domain/name-search';

describe('name normalisation for blind indexes', () => {
  it('folds katakana, half-width kana, full-width letters and spaces', () => {
    expect(normaliseName('ヤマダ タロウ')).toBe('やまだたろう');
    expect(normaliseName('ﾔﾏﾀﾞ　ﾀﾛｳ')).toBe('やまだたろう');
    expect(normaliseName('やまだ たろう')).toBe('やまだたろう');
    expect(normaliseName('Ｙａｍａｄａ Taro')).toBe('yamadataro');
    expect(normaliseName('山田 太郎')).toBe('山田太郎');
  });
  it('yields prefixes by character, not by byte', () => {
    expect(searchPrefixes('やまだ')).toEqual(['や', 'やま', 'やまだ']);
    expect(searchPrefixes('abcdefghijkl', 3)).toEqual(['a', 'ab', 'abc']);
  });
});
