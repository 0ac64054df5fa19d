-- Alerts. `trigger` is {goal_name} (fires when that goal completes) or {metric: visitors |
-- pageviews | events, window_minutes, op: gt | lt, value} (evaluated by the worker every interval
-- over the last window_minutes); `template` is {subject, message}. The api validates the shapes;
-- the checks below keep the worker's queries safe from rows it could not read.
CREATE TABLE alerts (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id            uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  trigger            jsonb NOT NULL CHECK (
                       jsonb_typeof(trigger) = 'object'
                       AND (
                         (trigger ? 'goal_name' AND jsonb_typeof(trigger -> 'goal_name') = 'string')
                         OR (
                           trigger ->> 'metric' IN ('visitors', 'pageviews', 'events')
                           AND trigger ->> 'op' IN ('gt', 'lt')
                           AND jsonb_typeof(trigger -> 'window_minutes') = 'number'
                           AND jsonb_typeof(trigger -> 'value') = 'number'
                         )
                       )
                     ),
  template           jsonb NOT NULL CHECK (
                       jsonb_typeof(template -> 'subject') = 'string'
                       AND jsonb_typeof(template -> 'message') = 'string'
                     ),
  is_enabled         boolean NOT NULL DEFAULT true,
  cooldown_minutes   integer NOT NULL DEFAULT 60 CHECK (cooldown_minutes BETWEEN 0 AND 43200),
  last_fired_at      timestamptz,
  -- End of the last threshold window evaluated: whoever moves it forward evaluates that window, so
  -- two workers never both evaluate (and fire) the same window.
  last_evaluated_at  timestamptz,
  -- Goal alerts are looked up by goal name each time a goal completes.
  goal_name          text GENERATED ALWAYS AS (trigger ->> 'goal_name') STORED,
  created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_site_idx ON alerts (site_id, created_at);
CREATE INDEX alerts_goal_idx ON alerts (site_id, goal_name) WHERE goal_name IS NOT NULL AND is_enabled;
CREATE INDEX alerts_threshold_idx ON alerts (id) WHERE goal_name IS NULL AND is_enabled;

-- One row per firing, with what was measured and the rendered template.
CREATE TABLE alert_history (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  alert_id      uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  fired_at      timestamptz NOT NULL DEFAULT now(),
  -- Threshold alerts: the measured value and window; goal alerts: the completing event.
  value         double precision,
  window_start  timestamptz,
  window_end    timestamptz,
  event_id      uuid,
  subject       text NOT NULL,
  message       text NOT NULL,
  -- `window:<end>` or `event:<id>`: a job re-run after a crash cannot record the same firing twice.
  dedupe_key    text NOT NULL,
  CONSTRAINT alert_history_dedupe_key UNIQUE (alert_id, dedupe_key)
);
CREATE INDEX alert_history_alert_idx ON alert_history (alert_id, fired_at DESC);
CREATE INDEX alert_history_site_idx ON alert_history (site_id, fired_at DESC);
