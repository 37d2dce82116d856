-- Videos belong to a tenant, and two tenants may use the same video id without seeing or overwriting each other's
-- results: every table is keyed by (tenant_id, video_id).
alter table frame_tiles drop constraint frame_tiles_video_id_frame_index_fkey;
alter table frames drop constraint frames_video_id_fkey;
alter table segments drop constraint segments_video_id_fkey;

alter table videos drop constraint videos_pkey;
alter table videos add primary key (tenant_id, video_id);

alter table frames drop constraint frames_pkey;
alter table frames add primary key (tenant_id, video_id, frame_index);
alter table frames add foreign key (tenant_id, video_id) references videos (tenant_id, video_id) on delete cascade;
drop index frames_by_tenant;
drop index frames_by_time;
create index frames_by_time on frames (tenant_id, video_id, timestamp_s);

alter table frame_tiles add column tenant_id text;
update frame_tiles t set tenant_id = f.tenant_id from frames f where f.video_id = t.video_id and f.frame_index = t.frame_index;
delete from frame_tiles where tenant_id is null;
alter table frame_tiles alter column tenant_id set not null;
alter table frame_tiles drop constraint frame_tiles_pkey;
alter table frame_tiles add primary key (tenant_id, video_id, frame_index, tile);
alter table frame_tiles add foreign key (tenant_id, video_id, frame_index) references frames (tenant_id, video_id, frame_index) on delete cascade;

alter table segments add column tenant_id text;
update segments s set tenant_id = v.tenant_id from videos v where v.video_id = s.video_id;
delete from segments where tenant_id is null;
alter table segments alter column tenant_id set not null;
alter table segments drop constraint segments_pkey;
alter table segments add primary key (tenant_id, video_id, first_frame);
alter table segments add foreign key (tenant_id, video_id) references videos (tenant_id, video_id) on delete cascade;

-- A final state (completed, failed) is replaced only by a status of a later attempt: a retry.
alter table videos add column attempt integer not null default 1;
