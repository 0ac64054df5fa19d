import { describe, expect, it } from 'vitest';
import { isBot } from './bots';

const humans = {
  chromeWindows:
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.109 Safari/537.36',
  safariIphone:
    'Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1',
  firefoxAndroid: 'Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0',
  edge: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91',
};

const bots = {
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  bingbot: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)',
  curl: 'curl/8.4.0',
  python: 'python-requests/2.31.0',
  headlessChrome:
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
  uptimeRobot: 'Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)',
  pingdom: 'Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)',
  slackPreview: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  facebookPreview: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  twitterPreview: 'Twitterbot/1.0',
};

describe('isBot', () => {
  it.each(Object.entries(humans))('lets %s through', (_name, ua) => {
    expect(isBot(ua)).toBe(false);
    expect(isBot(ua)).toBe(false);
  });

  it.each(Object.entries(bots))('flags %s', (_name, ua) => {
    expect(isBot(ua)).toBe(true);
    expect(isBot(ua)).toBe(true);
  });

  it('flags a missing or blank agent', () => {
    expect(isBot('')).toBe(true);
    expect(isBot('  ')).toBe(true);
    expect(isBot(null)).toBe(true);
    expect(isBot(undefined)).toBe(true);
  });

  it('checks oversized agents without caching them', () => {
    expect(isBot(`${bots.googlebot} ${'x'.repeat(2_000)}`)).toBe(true);
    expect(isBot(`${humans.chromeWindows} ${'x'.repeat(2_000)}`)).toBe(false);
  });
});
