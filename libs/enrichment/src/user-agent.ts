import UAParser from 'ua-parser-js';
import { LruCache } from './lru-cache';

/** ua-parser-js device types, plus `desktop` for a recognised browser or OS with no device type. */
export type DeviceType =
  'desktop' | 'mobile' | 'tablet' | 'console' | 'smarttv' | 'wearable' | 'embedded' | 'xr' | '';

export interface UserAgentInfo {
  browser: string;
  /** `major.minor`, or `major` when the agent gives no minor. */
  browser_version: string;
  os: string;
  os_version: string;
  device: DeviceType;
}

const DEVICE_TYPES = new Set<string>([
  'mobile',
  'tablet',
  'console',
  'smarttv',
  'wearable',
  'embedded',
  'xr',
]);

// ua-parser-js looks at the first 500 characters only, so longer keys would only bloat the cache.
const UA_KEY_LENGTH = 500;
const CACHE_SIZE = 10_000;

const EMPTY: UserAgentInfo = Object.freeze({
  browser: '',
  browser_version: '',
  os: '',
  os_version: '',
  device: '',
});

const parser = new UAParser();
const cache = new LruCache<string, UserAgentInfo>(CACHE_SIZE);

const majorMinor = (version: string | undefined) => /^\d+(?:\.\d+)?/.exec(version ?? '')?.[0] ?? '';

function parse(ua: string): UserAgentInfo {
  const { browser, os, device } = parser.setUA(ua).getResult();
  // "Mobile Safari" and "Safari" are one browser; the device dimension already says "mobile".
  const browserName = (browser.name ?? '').replace(/^Mobile /, '');
  const known = browserName !== '' || (os.name ?? '') !== '';
  const deviceType = device.type && DEVICE_TYPES.has(device.type) ? (device.type as DeviceType) : undefined;
  return Object.freeze({
    browser: browserName.slice(0, 64),
    browser_version: majorMinor(browser.version).slice(0, 32),
    os: (os.name ?? '').slice(0, 64),
    os_version: majorMinor(os.version).slice(0, 32),
    device: deviceType ?? (known ? 'desktop' : ''),
  });
}

/**
 * Browser, OS and device class of a User-Agent header. iPadOS 13+ Safari sends a macOS desktop
 * agent by default, so those iPads count as desktop: the header alone cannot tell them apart.
 */
export function parseUserAgent(ua: string | null | undefined): UserAgentInfo {
  const key = (ua ?? '').trim().slice(0, UA_KEY_LENGTH);
  if (key === '') return EMPTY;
  let info = cache.get(key);
  if (!info) {
    info = parse(key);
    cache.set(key, info);
  }
  return info;
}
