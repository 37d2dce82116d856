-- Search always runs within one tenant. A GIN index over the tenant and the words (btree_gin, a trusted extension
-- that a database owner may create) finds one tenant's matches directly; over the words alone, Postgres either read
-- every tenant's matches or scanned the table until it had found enough of this tenant's.
create extension if not exists btree_gin;
drop index frames_search;
create index frames_search on frames using gin (tenant_id, search);
