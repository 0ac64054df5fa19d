/** What `@clickhouse/client`'s `query()` takes: the text and the values of its `{name:Type}` placeholders. */
export interface ClickHouseQuery {
  query: string;
  query_params: Record<string, unknown>;
}

/** The only parameter types the builders use; a type is never derived from input. */
export type ParamType =
  | 'String'
  | 'UUID'
  | 'Int32'
  | 'UInt32'
  | 'UInt64'
  | 'Array(String)'
  | 'Array(UUID)'
  | 'Array(UInt8)'
  | 'Date'
  | "DateTime64(3, 'UTC')"
  | "Array(DateTime64(3, 'UTC'))";

const instantText = (at: Date) => at.toISOString().replace('T', ' ').replace('Z', '');

/**
 * Collects the values of one query. Every value from a request, a site or a goal goes through
 * `bind`, which answers a `{pN:Type}` placeholder for the text: the server substitutes the value
 * after parsing, so no quoting or escaping is ever done by hand and no value can change the
 * query's structure. Names are generated, so they cannot collide or be chosen by input.
 */
export class QueryParams {
  readonly values: Record<string, unknown> = {};
  #count = 0;

  bind(value: string | number | readonly (string | number)[], type: ParamType): string {
    const name = `p${this.#count++}`;
    this.values[name] = typeof value === 'object' ? [...value] : value;
    return `{${name}:${type}}`;
  }

  /** An instant as `YYYY-MM-DD hh:mm:ss.mmm` in UTC, read back exactly by `DateTime64(3, 'UTC')`. */
  instant(at: Date): string {
    return this.bind(instantText(at), "DateTime64(3, 'UTC')");
  }

  /** The UTC date of an instant, as `Date`. */
  day(at: Date): string {
    return this.bind(at.toISOString().slice(0, 10), 'Date');
  }

  instants(at: readonly Date[]): string {
    return this.bind(at.map(instantText), "Array(DateTime64(3, 'UTC'))");
  }

  query(text: string): ClickHouseQuery {
    return { query: text, query_params: { ...this.values } };
  }
}
