import { describe, expect, it } from 'vitest';
import { analyzeStatement, quoteIdentifier, quoteString } from './sql';

describe('analyzeStatement', () => {
  it('names the statement by its first keyword, past comments', () => {
    expect(analyzeStatement('  -- note\n/* a /* nested */ one */ select 1').kind).toBe('SELECT');
    expect(analyzeStatement('(SELECT 1) UNION ALL (SELECT 2)').kind).toBe('(');
    expect(analyzeStatement(' \n -- only a comment\n').kind).toBe('');
  });

  it('reads the FORMAT clause that clickhouse-js appends, with or without SETTINGS after it', () => {
    expect(analyzeStatement('SELECT * FROM t \nFORMAT JSONEachRow').format).toBe('JSONEachRow');
    expect(analyzeStatement('SELECT 1 FORMAT CSV SETTINGS max_threads = 1')).toMatchObject({ format: 'CSV' });
    expect(analyzeStatement("SELECT 'FORMAT JSON' AS s").format).toBeUndefined();
    expect(analyzeStatement("SELECT format('{}', 1) AS x FROM t").format).toBeUndefined();
    expect(analyzeStatement('SELECT x AS format FROM t')).toMatchObject({
      format: undefined,
      formatUncertain: false,
    });
    // A column called `format` could be a clause; the caller must not trust a guess.
    expect(analyzeStatement('SELECT format FROM t')).toMatchObject({
      format: undefined,
      formatUncertain: true,
    });
  });

  it('collects placeholders outside strings and comments', () => {
    const info = analyzeStatement(
      "SELECT {a:String}, { b : Array(String) }, '{c:String}' /* {d:UInt8} */, map('k', 1), [{e:UInt8}]",
    );
    expect(info.placeholders.sort()).toEqual(['a', 'b', 'e']);
  });

  it('tells one statement with a trailing semicolon from several', () => {
    expect(analyzeStatement('SELECT 1;').multiStatement).toBe(false);
    expect(analyzeStatement("SELECT ';' AS s; -- done").multiStatement).toBe(false);
    expect(analyzeStatement('SELECT 1; SELECT 2').multiStatement).toBe(true);
    expect(analyzeStatement('SELECT 1; SET max_threads = 1').multiStatement).toBe(true);
  });

  it('stops reading an INSERT where its data starts', () => {
    expect(
      analyzeStatement('INSERT INTO t (a, b) FORMAT JSONEachRow {"a":"x;y\'"};{b:String}'),
    ).toMatchObject({
      kind: 'INSERT',
      format: 'JSONEachRow',
      insertDataFollows: true,
      multiStatement: false,
      placeholders: [],
    });
    expect(analyzeStatement("INSERT INTO t VALUES ('it''s'); DROP TABLE t")).toMatchObject({
      insertDataFollows: true,
      multiStatement: false,
    });
    expect(analyzeStatement('INSERT INTO t SELECT {v:UInt8}')).toMatchObject({
      insertDataFollows: false,
      placeholders: ['v'],
    });
  });

  it('lists the settings a SET assigns', () => {
    expect(
      analyzeStatement("SET max_threads = 1, log_comment = 'a, b = c', param_x = [1, 2]").assignedSettings,
    ).toEqual(['max_threads', 'log_comment', 'param_x']);
    expect(analyzeStatement('SET ROLE admin').assignedSettings).toEqual([]);
  });
});

describe('quoting', () => {
  it('escapes what would end or corrupt a literal', () => {
    expect(quoteString("a'b\\c\0d")).toBe("'a\\'b\\\\c\\0d'");
    expect(quoteIdentifier('we`ird\\name')).toBe('`we\\`ird\\\\name`');
  });
});
