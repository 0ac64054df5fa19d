-- Webhook subscriptions, their deliveries and every delivery attempt.
CREATE TABLE webhook_subscriptions (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id          uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  url              text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  events           text[] NOT NULL CHECK (
                     cardinality(events) > 0
                     AND events <@ ARRAY['pageview', 'event', 'goal.completed', 'alert.triggered']
                   ),
  description      text CHECK (length(description) <= 500),
  -- The user's switch. The worker turns it off itself when the endpoint answers 410 Gone or fails
  -- for WEBHOOK_DISABLE_AFTER, recording when and why; turning it back on should clear both.
  is_enabled       boolean NOT NULL DEFAULT true,
  -- Kept as is, not hashed like API tokens: the worker needs the secret itself to sign every
  -- delivery (HMAC), so a hash is useless. Encrypting it with a key from the environment would only
  -- move the secret next to the database credentials the worker holds anyway. Instead it is shown
  -- once at creation, never returned by the API again, and can be rolled by recreating the hook.
  secret           text NOT NULL CHECK (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  -- Start of the current run of failed attempts; NULL after any success.
  failing_since    timestamptz,
  disabled_at      timestamptz,
  disabled_reason  text,
  created_by       uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_site_idx ON webhook_subscriptions (site_id) WHERE is_enabled;

-- One message to one subscription. Its id is the `webhook-id` header of every attempt (Standard
-- Webhooks: receivers deduplicate on it), so it is made once, here, and never changes on retry.
CREATE TABLE webhook_deliveries (
  id               text PRIMARY KEY DEFAULT ('msg_' || replace(gen_random_uuid()::text, '-', '')),
  subscription_id  uuid NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
  event_type       text NOT NULL,
  -- {type, timestamp, data}: the body of every attempt. Jobs carry only the id.
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'retrying', 'succeeded', 'failed')),
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz DEFAULT now(),
  last_status_code integer,
  last_error       text,
  is_test          boolean NOT NULL DEFAULT false,
  -- Identifies the event for this subscription, so creating the deliveries of one event twice (a
  -- job re-run) finds the first ones instead of sending the event again under a new id.
  dedupe_key       text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  completed_at     timestamptz,
  CONSTRAINT webhook_deliveries_dedupe_key UNIQUE (subscription_id, dedupe_key)
);
CREATE INDEX webhook_deliveries_subscription_idx ON webhook_deliveries (subscription_id, created_at DESC);
-- The worker's sweep for deliveries whose job was lost.
CREATE INDEX webhook_deliveries_open_idx ON webhook_deliveries (next_attempt_at)
  WHERE status IN ('pending', 'retrying');
-- Pruning finished deliveries after retention.
CREATE INDEX webhook_deliveries_created_idx ON webhook_deliveries (created_at);

CREATE TABLE webhook_delivery_attempts (
  delivery_id       text NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt           integer NOT NULL CHECK (attempt > 0),
  -- NULL when no answer came (refused target, DNS, connect error, timeout): see `error`.
  status_code       integer,
  latency_ms        integer NOT NULL,
  -- At most the first KiB of the answer.
  response_excerpt  text,
  error             text,
  -- Asked for by a user (redeliver), not part of the retry schedule.
  manual            boolean NOT NULL DEFAULT false,
  at                timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (delivery_id, attempt)
);
