import { isbot } from 'isbot';
import { LruCache } from './lru-cache';

// Agents longer than this are checked every time rather than cached: they are rare and would
// make each cache entry expensive.
const MAX_CACHED_LENGTH = 512;
const cache = new LruCache<string, boolean>(10_000);

/**
 * True for crawlers, headless browsers, HTTP libraries, uptime monitors and link-preview
 * fetchers (isbot's maintained list), and for a missing or blank User-Agent, which no real
 * browser sends.
 */
export function isBot(ua: string | null | undefined): boolean {
  const value = (ua ?? '').trim();
  if (value === '') return true;
  if (value.length > MAX_CACHED_LENGTH) return isbot(value);
  let bot = cache.get(value);
  if (bot === undefined) {
    bot = isbot(value);
    cache.set(value, bot);
  }
  return bot;
}
