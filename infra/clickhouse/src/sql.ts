/**
 * Just enough reading of ClickHouse SQL for the host to act like the HTTP server: which kind of
 * statement it is, its FORMAT clause, the `{name:Type}` placeholders it uses, whether it is more
 * than one statement, and which settings a `SET` assigns. The engine still parses everything; a
 * wrong guess here only costs streaming (we fall back to buffering) or a clearer error.
 */

interface Token {
  type: 'word' | 'quoted' | 'string' | 'number' | 'punct';
  text: string;
  /** Bracket depth the token sits at; clauses that matter here are all at depth 0. */
  depth: number;
  /** Set on a `{` that opens a query parameter placeholder. */
  placeholder?: string;
}

const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;
const NUMBER = /[0-9][0-9A-Za-z_.]*/y;
const PLACEHOLDER = /\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:/y;

class Lexer {
  #pos = 0;
  #depth = 0;

  constructor(private readonly sql: string) {}

  next(): Token | undefined {
    this.#skipBlanks();
    const { sql } = this;
    const start = this.#pos;
    if (start >= sql.length) return undefined;
    const ch = sql[start]!;

    if (ch === "'" || ch === '"' || ch === '`') {
      this.#pos = this.#quotedEnd(start, ch);
      return {
        type: ch === "'" ? 'string' : 'quoted',
        text: sql.slice(start, this.#pos),
        depth: this.#depth,
      };
    }
    const word = this.#sticky(WORD) ?? this.#sticky(NUMBER);
    if (word !== undefined) {
      return { type: /[0-9]/.test(ch) ? 'number' : 'word', text: word, depth: this.#depth };
    }

    this.#pos += 1;
    if (ch === '(' || ch === '[' || ch === '{') {
      PLACEHOLDER.lastIndex = start;
      const placeholder = ch === '{' ? PLACEHOLDER.exec(sql)?.[1] : undefined;
      return { type: 'punct', text: ch, depth: this.#depth++, ...(placeholder ? { placeholder } : {}) };
    }
    if (ch === ')' || ch === ']' || ch === '}') this.#depth = Math.max(0, this.#depth - 1);
    return { type: 'punct', text: ch, depth: this.#depth };
  }

  #sticky(re: RegExp): string | undefined {
    re.lastIndex = this.#pos;
    const m = re.exec(this.sql);
    if (!m) return undefined;
    this.#pos = re.lastIndex;
    return m[0];
  }

  /** Index just past the closing quote; a backslash escapes, a doubled quote is a literal quote. */
  #quotedEnd(start: number, quote: string): number {
    const { sql } = this;
    let i = start + 1;
    while (i < sql.length) {
      const c = sql[i];
      if (c === '\\') i += 2;
      else if (c === quote && sql[i + 1] === quote) i += 2;
      else if (c === quote) return i + 1;
      else i += 1;
    }
    return sql.length;
  }

  #skipBlanks(): void {
    const { sql } = this;
    for (;;) {
      const c = sql[this.#pos];
      if (c === undefined) return;
      if (/\s/.test(c)) {
        this.#pos += 1;
      } else if (
        sql.startsWith('--', this.#pos) ||
        sql.startsWith('# ', this.#pos) ||
        sql.startsWith('#!', this.#pos)
      ) {
        const eol = sql.indexOf('\n', this.#pos);
        this.#pos = eol < 0 ? sql.length : eol + 1;
      } else if (sql.startsWith('/*', this.#pos)) {
        this.#skipBlockComment();
      } else {
        return;
      }
    }
  }

  /** ClickHouse block comments nest. */
  #skipBlockComment(): void {
    const { sql } = this;
    let level = 0;
    while (this.#pos < sql.length) {
      if (sql.startsWith('/*', this.#pos)) {
        level += 1;
        this.#pos += 2;
      } else if (sql.startsWith('*/', this.#pos)) {
        level -= 1;
        this.#pos += 2;
        if (level === 0) return;
      } else {
        this.#pos += 1;
      }
    }
  }
}

export interface StatementInfo {
  /** First keyword upper-cased, `(` for a parenthesised SELECT, `''` for an empty text. */
  kind: string;
  /** The name in the FORMAT clause: the output format of a read, the input format of an INSERT. */
  format: string | undefined;
  /** A FORMAT clause may be there but could not be read with confidence. */
  formatUncertain: boolean;
  /** For an INSERT: the text reached the start of inline data (after `FORMAT <name>` or `VALUES`). */
  insertDataFollows: boolean;
  placeholders: string[];
  multiStatement: boolean;
  /** Settings assigned by a `SET` statement. */
  assignedSettings: string[];
}

const isWord = (t: Token | undefined, text: string): boolean =>
  t !== undefined && t.type === 'word' && t.text.toUpperCase() === text;

export function analyzeStatement(sql: string): StatementInfo {
  const lexer = new Lexer(sql);
  const info: StatementInfo = {
    kind: '',
    format: undefined,
    formatUncertain: false,
    insertDataFollows: false,
    placeholders: [],
    multiStatement: false,
    assignedSettings: [],
  };
  const placeholders = new Set<string>();
  const top: Token[] = [];
  let terminated = false;

  for (let token = lexer.next(); token; token = lexer.next()) {
    if (terminated) {
      info.multiStatement = true;
      break;
    }
    if (info.kind === '') info.kind = token.type === 'word' ? token.text.toUpperCase() : token.text;
    if (token.placeholder) placeholders.add(token.placeholder);
    if (token.depth > 0) continue;
    if (token.text === ';') {
      terminated = true;
      continue;
    }
    top.push(token);

    // What follows FORMAT or VALUES in an INSERT is data, not SQL: stop reading there.
    if (info.kind === 'INSERT' && isWord(token, 'VALUES')) {
      info.insertDataFollows = true;
      break;
    }
    if (info.kind === 'INSERT' && isWord(token, 'FORMAT')) {
      const name = lexer.next();
      info.format = name?.text;
      info.insertDataFollows = name !== undefined;
      break;
    }
  }

  if (info.kind !== 'INSERT') readOutputFormat(top, info);
  if (info.kind === 'SET') info.assignedSettings = readSetNames(top.slice(1));
  info.placeholders = [...placeholders];
  return info;
}

/** `FORMAT <name>` is the statement's tail: only a SETTINGS clause may follow it. */
function readOutputFormat(top: Token[], info: StatementInfo): void {
  top.forEach((token, i) => {
    const name = top[i + 1];
    if (!isWord(token, 'FORMAT') || name?.type !== 'word') return;
    const before = top[i - 1];
    if (isWord(before, 'AS') || before?.text === '.') return;
    const after = top[i + 2];
    if (after === undefined || isWord(after, 'SETTINGS')) {
      info.format = name.text;
    } else {
      info.formatUncertain = true;
    }
  });
}

function readSetNames(tokens: Token[]): string[] {
  const names: string[] = [];
  let segment: Token[] = [];
  for (const token of [...tokens, undefined]) {
    if (token === undefined || token.text === ',') {
      const [name, eq] = segment;
      if (name?.type === 'word' && eq?.text === '=') names.push(name.text);
      segment = [];
    } else {
      segment.push(token);
    }
  }
  return names;
}

/** A ClickHouse string literal. NUL is escaped because the engine takes the query as a C string. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;
}

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\0/g, '\\0')}\``;
}

export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
