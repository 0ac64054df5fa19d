import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (no browser download); CI installs the `chromium` package. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless Chromium as it runs on our machines: no sandbox (we are root), and none of the
 * background networking a closed network refuses. `hosts` resolve to 127.0.0.1, so a local server
 * can stand for sites with real host names (a tracked site, a referring one).
 */
export function launchChromium(
  opts: { userAgent?: string; hosts?: readonly string[] } = {},
): Promise<Browser> {
  const hosts = opts.hosts ?? [];
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      // Browser-wide: a per-context override does not reach beacons sent while a page unloads.
      ...(opts.userAgent ? [`--user-agent=${opts.userAgent}`] : []),
      ...(hosts.length ? [`--host-resolver-rules=${hosts.map((h) => `MAP ${h} 127.0.0.1`).join(', ')}`] : []),
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A desktop Chrome user agent: HeadlessChrome's own is (rightly) dropped as a bot by ingest. */
export const DESKTOP_CHROME_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

export function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    });
  });
}
