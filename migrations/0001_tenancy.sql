-- Tenants, API keys and usage records: the system of record for tenancy (issue 4).
-- Times are Unix milliseconds. Limits are JSON objects ({"rpm":60,"tpm":100000,...}); a missing field means
-- no limit. Keys are stored only as a SHA-256 hash plus a public prefix that identifies them in listings.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  limits TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants (id),
  hash TEXT NOT NULL UNIQUE,
  prefix TEXT NOT NULL,
  name TEXT,
  allowed_models TEXT,
  limits TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- One row per request that reached the tenant's Durable Object (admitted or refused by a limit). `id` is the
-- reservation id, so a record written twice (outbox retry) stays one row. `charged_tokens` is what the
-- budget was charged; `usage_source` says whether it came from the node's exact usage or an estimate.
CREATE TABLE usage_records (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  end_user TEXT,
  model TEXT NOT NULL,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  charged_tokens INTEGER NOT NULL,
  usage_source TEXT NOT NULL,
  images INTEGER NOT NULL,
  audio_clips INTEGER NOT NULL,
  audio_seconds REAL,
  latency_ms INTEGER,
  ttft_ms INTEGER,
  created_at INTEGER NOT NULL,
  day TEXT NOT NULL
);

CREATE INDEX usage_records_by_tenant_day ON usage_records (tenant_id, day);
