import { describe, expect, it } from 'vitest';
import { decimalUnits, RowBinaryWriter } from './row-binary';

const written = (write: (w: RowBinaryWriter) => void) => {
  const w = new RowBinaryWriter(4);
  write(w);
  return Buffer.from(w.bytes());
};

describe('RowBinaryWriter', () => {
  it('writes a UUID as its two 64-bit halves, each little-endian', () => {
    expect(written((w) => w.uuid('00112233-4455-6677-8899-aabbccddeeff')).toString('hex')).toBe(
      '7766554433221100ffeeddccbbaa9988',
    );
    expect(written((w) => w.uuid('AABBCCDD-EEFF-0011-2233-445566778899')).toString('hex')).toBe(
      '1100ffeeddccbbaa9988776655443322',
    );
    expect(() => written((w) => w.uuid('not-a-uuid'))).toThrow(RangeError);
    expect(() => written((w) => w.uuid('00112233-4455-6677-8899-aabbccddeefg'))).toThrow(RangeError);
    expect(() => written((w) => w.uuid('00112233-4455-6677-8899-aabbccddeeé0'))).toThrow(RangeError);
  });

  it('prefixes strings with their UTF-8 length as LEB128, past one byte too', () => {
    expect(written((w) => w.string('é')).toString('hex')).toBe('02c3a9');
    expect(written((w) => w.string('')).toString('hex')).toBe('00');
    const long = 'x'.repeat(300);
    expect(written((w) => w.string(long))).toEqual(
      Buffer.concat([Buffer.from([0xac, 0x02]), Buffer.from(long)]),
    );
    // 42 characters of three bytes each: the longest written after a one-byte length.
    const wide = '€'.repeat(42);
    expect(written((w) => w.string(wide))).toEqual(Buffer.concat([Buffer.from([126]), Buffer.from(wide)]));
    expect(written((w) => w.string('€'.repeat(43)))).toEqual(
      Buffer.concat([Buffer.from([0x81, 0x01]), Buffer.from('€'.repeat(43))]),
    );
  });

  it('writes a decimal UInt64 exactly across its whole range, and refuses anything else', () => {
    for (const n of ['0', '1', '4294967295', '4294967296', '9007199254740993', '18446744073709551615']) {
      const expected = Buffer.alloc(8);
      expected.writeBigUInt64LE(BigInt(n));
      expect(written((w) => w.uint64(n))).toEqual(expected);
    }
    for (const bad of ['', '18446744073709551616', '99999999999999999999', '12a', '-1', '1'.repeat(21)]) {
      expect(() => written((w) => w.uint64(bad)), bad).toThrow(RangeError);
    }
  });

  it('writes fixed-width numbers little-endian and grows past its first buffer', () => {
    const bytes = written((w) => {
      w.uint32(0xdeadbeef);
      w.uint64('18446744073709551615');
      w.int64(-2n);
      w.float32(0.5);
      w.uint8(7);
    });
    expect(bytes.toString('hex')).toBe('efbeadde' + 'ff'.repeat(8) + 'feffffffffffffff' + '0000003f' + '07');
  });

  it('writes a Nullable null byte before a value, and none after it', () => {
    expect(written((w) => w.present(null)).toString('hex')).toBe('01');
    expect(written((w) => w.present(undefined)).toString('hex')).toBe('01');
    expect(written((w) => w.present(0)).toString('hex')).toBe('00');
  });

  it('writes a map as its size, then each key and value', () => {
    expect(written((w) => w.mapOfStrings({ a: 'b', cd: '' })).toString('hex')).toBe(
      '02' + '0161' + '0162' + '026364' + '00',
    );
  });
});

describe('decimalUnits', () => {
  it('cuts to the scale towards zero, from the digits JSON would carry', () => {
    expect(decimalUnits(12.34567, 4)).toBe(123456n);
    expect(decimalUnits(-1.23456, 4)).toBe(-12345n);
    // As a double 2.00019999 is below 2.0002; its text is not, and ClickHouse reads the text.
    expect(decimalUnits(2.00019999, 4)).toBe(20001n);
    expect(decimalUnits(29, 4)).toBe(290000n);
    expect(decimalUnits(0.30000000000000004, 4)).toBe(3000n);
    expect(decimalUnits(99999999999999.99, 4)).toBe(999999999999999800n);
    expect(decimalUnits(1e-7, 4)).toBe(0n);
    expect(decimalUnits(-9.99995e-5, 4)).toBe(0n);
  });
});
