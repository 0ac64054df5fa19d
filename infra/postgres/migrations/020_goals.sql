-- Goals: a custom event name or a page path (a trailing `*` matches the rest of the path) that
-- counts as a conversion. Exactly one of the two is set.
CREATE TABLE goals (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  event_name  text CHECK (length(event_name) BETWEEN 1 AND 120),
  page_path   text CHECK (page_path LIKE '/%' AND length(page_path) <= 2048),
  created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT goals_one_target CHECK ((event_name IS NULL) <> (page_path IS NULL)),
  -- Alerts, funnels and the `goal` stats filter refer to goals by name.
  CONSTRAINT goals_site_name_key UNIQUE (site_id, name)
);
