/**
 * Redis pub/sub channel on which the api announces that a site's goals or webhook subscriptions
 * changed (the message is the site id), so consumers drop their cached copy at once instead of
 * waiting for its expiry.
 */
export const siteConfigChannel = (redisPrefix: string) => `${redisPrefix}:site-config:invalidate`;
