-- Metadata of the admin API: accounts and users, sites and who may see them, secrets (stored as
-- SHA-256 hashes only) and the activity log. gen_random_uuid() is built in since PostgreSQL 13.

CREATE TABLE accounts (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name        text NOT NULL,
  plan        text NOT NULL DEFAULT 'self_hosted',
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Each user owns exactly one account (signup creates both); other accounts' sites reach a user
-- through site_members.
CREATE TABLE users (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id     uuid NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
  email          text NOT NULL CHECK (email = lower(email) AND length(email) <= 254),
  name           text,
  -- scrypt$N$r$p$salt$key
  password_hash  text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sites (
  id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id          uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  site_key            text NOT NULL UNIQUE CHECK (site_key ~ '^sk_[0-9A-Za-z]{16,64}$'),
  domain              text NOT NULL CHECK (domain = lower(domain)),
  name                text NOT NULL,
  timezone            text NOT NULL DEFAULT 'UTC',
  public_stats        boolean NOT NULL DEFAULT false,
  currency            text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  -- Ingest rules, read by the ingest service through a cache that `<prefix>:site-rules:invalidate`
  -- (Redis pub/sub, message = site_key) invalidates. Plain text so they come back as written.
  excluded_ips        text[] NOT NULL DEFAULT '{}',
  excluded_paths      text[] NOT NULL DEFAULT '{}',
  excluded_countries  text[] NOT NULL DEFAULT '{}',
  allowed_hostnames   text[] NOT NULL DEFAULT '{}',
  created_by          uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT sites_account_domain_key UNIQUE (account_id, domain)
);

-- The owner of a site is its account's user; these rows are the people an owner invited.
CREATE TABLE site_members (
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role        text NOT NULL CHECK (role IN ('member', 'viewer')),
  invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_members_user_idx ON site_members (user_id);

-- An invite to an email nobody has signed up with yet; signup turns it into a site_members row.
CREATE TABLE site_invites (
  site_id     uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  email       text NOT NULL CHECK (email = lower(email)),
  role        text NOT NULL CHECK (role IN ('member', 'viewer')),
  invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (site_id, email)
);
CREATE INDEX site_invites_email_idx ON site_invites (email);

-- tmk_<id>_<secret>: id is the lookup key, only sha256(secret) is kept.
CREATE TABLE site_api_keys (
  id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  site_id       uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
  name          text NOT NULL,
  secret_hash   bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
  expires_at    timestamptz,
  last_used_at  timestamptz,
  revoked_at    timestamptz,
  -- Set when the key was rolled: the key that replaced it.
  replaced_by   text REFERENCES site_api_keys (id) ON DELETE SET NULL,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX site_api_keys_site_idx ON site_api_keys (site_id, created_at);

-- tma_<id>_<secret>: acts as its user, within `permissions` and, when set, `site_ids`.
CREATE TABLE account_tokens (
  id            text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  account_id    uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name          text NOT NULL,
  permissions   text[] NOT NULL CHECK (cardinality(permissions) > 0),
  -- NULL: every site the user can access. No foreign key: a deleted site simply matches nothing.
  site_ids      uuid[],
  secret_hash   bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
  expires_at    timestamptz,
  last_used_at  timestamptz,
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, created_at);

-- Who did what in an account. No foreign keys to the resources: the log outlives them.
CREATE TABLE activity_log (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id     uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  actor_user_id  uuid REFERENCES users (id) ON DELETE SET NULL,
  actor_token_id text,
  action         text NOT NULL,
  resource_type  text NOT NULL,
  resource_id    text NOT NULL,
  site_id        uuid,
  metadata       jsonb NOT NULL DEFAULT '{}',
  created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_log_account_idx ON activity_log (account_id, id DESC);
