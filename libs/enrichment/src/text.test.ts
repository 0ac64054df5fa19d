import { describe, expect, it } from 'vitest';
import { bareHost, stripControlChars, truncate } from './text';

describe('truncate', () => {
  it('leaves short strings alone and cuts long ones to the limit', () => {
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('abcdef', 5)).toBe('abcde');
    expect(truncate('a'.repeat(3000))).toHaveLength(2048);
  });

  it('drops a high surrogate left alone at the cut', () => {
    expect(truncate('ab😀', 3)).toBe('ab');
    expect(truncate('ab😀c', 4)).toBe('ab😀');
  });
});

describe('stripControlChars', () => {
  it('removes C0 controls and DEL, keeps other text', () => {
    expect(stripControlChars('a\u0000b\nc\u007fd é')).toBe('abcd é');
  });
});

describe('bareHost', () => {
  it('lower-cases and drops www. and a trailing dot', () => {
    expect(bareHost(' WWW.Example.COM. ')).toBe('example.com');
    expect(bareHost('www2.example.com')).toBe('www2.example.com');
  });
});
