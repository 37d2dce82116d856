-- What the upload made under an Idempotency-Key carried: SHA-256 over its file (or URL) and its options, so that the
-- key sent again with a different upload is refused rather than answered with the first one's video. Null for keys
-- recorded before it was kept.
alter table api_idempotency add column fingerprint bytea;
