-- Funnels: 2 to 8 ordered steps, each {name, type: "pageview", url} or {name, type: "goal",
-- goal_name}, validated by the api; the database only guards the shape. Deletion is soft so a
-- funnel referenced from old reports or activity still resolves.
CREATE TABLE funnels (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id         uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  steps           jsonb NOT NULL CHECK (
                    jsonb_typeof(steps) = 'array' AND jsonb_array_length(steps) BETWEEN 2 AND 8
                  ),
  -- A visitor counts for step N only after steps 1..N-1 in order within this window (API.md).
  window_minutes  integer NOT NULL DEFAULT 1440 CHECK (window_minutes BETWEEN 1 AND 43200),
  created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  deleted_at      timestamptz
);
CREATE INDEX funnels_site_idx ON funnels (site_id, created_at) WHERE deleted_at IS NULL;
-- Names are unique among live funnels only: a deleted funnel's name can be reused.
CREATE UNIQUE INDEX funnels_site_name_key ON funnels (site_id, name) WHERE deleted_at IS NULL;
