-- API keys of the results API. Only the SHA-256 of a key is kept: keys are 256-bit random strings, so the hash cannot
-- be reversed by guessing, and a fast hash lets every request be checked by an index lookup. The prefix is the
-- public part of a key (shown by `vireo keys list`, written in logs); it identifies a key without revealing it.
create table api_keys (
    key_id     text primary key,
    tenant_id  text not null references tenants (tenant_id),
    name       text not null default '',
    key_hash   bytea not null unique,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
create index api_keys_by_tenant on api_keys (tenant_id, created_at);

-- An Idempotency-Key claims its row before the upload is stored; a retry finds the row and the video it made.
-- video_id stays null while the first request is still under way.
create table api_idempotency (
    tenant_id       text not null references tenants (tenant_id),
    idempotency_key text not null,
    video_id        text,
    created_at      timestamptz not null default now(),
    primary key (tenant_id, idempotency_key)
);

-- The order in which a video's frames were stored, for the results API's event stream: a client that resumes after
-- the last frame it saw gets exactly the ones stored since. A video's frames arrive on one partition and are written
-- by one sink consumer at a time, so within a video this order is the order of commits.
alter table frames add column stored_seq bigint generated always as identity;
create index frames_by_stored on frames (tenant_id, video_id, stored_seq);

-- Keyset pagination of a tenant's videos, newest first, with the id breaking ties.
drop index videos_by_tenant;
create index videos_by_tenant on videos (tenant_id, created_at desc, video_id desc);
