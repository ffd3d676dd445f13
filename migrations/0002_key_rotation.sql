-- The key that replaced this one in a rotation. A key is rotated once: rotating it again (or an expired
-- key) is refused, so a replacement never inherits the old key's grace period as its own expiry.
ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;
