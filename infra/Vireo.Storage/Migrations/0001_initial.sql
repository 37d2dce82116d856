-- Tenants own videos; every lookup of the results API starts from a tenant.
create table tenants (
    tenant_id  text primary key,
    created_at timestamptz not null default now()
);

-- One row per video. status_sequence orders the status events of a video, so that a replayed or late event
-- never moves a video backwards. A video whose completion arrives before all its frames are stored is
-- 'finishing' until they are: 'completed' always means every frame can be read.
create table videos (
    video_id        text primary key,
    tenant_id       text not null references tenants (tenant_id),
    source          text,
    state           text not null check (state in ('accepted', 'processing', 'finishing', 'completed', 'failed')),
    status_sequence bigint not null default 0,
    frames_done     integer not null default 0,
    frames_expected integer,
    progress        real not null default 0,
    reason          text,
    frames          integer,
    tokens_before   bigint,
    tokens_after    bigint,
    duration_s      double precision,
    texts           text[],
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    completed_at    timestamptz
);
create index videos_by_tenant on videos (tenant_id, created_at desc);
create index videos_by_state on videos (state) where state in ('accepted', 'processing');

-- One row per analysed frame, unique by (video_id, frame_index): replays insert nothing.
create table frames (
    video_id      text not null references videos (video_id) on delete cascade,
    frame_index   integer not null,
    tenant_id     text not null,
    timestamp_s   double precision not null,
    reasons       text not null,
    caption       text not null,
    text_found    text not null,
    tokens_before integer not null,
    tokens_after  integer not null,
    decode_ms     real not null,
    vision_ms     real not null,
    language_ms   real not null,
    media_silo    text,
    vision_silo   text,
    language_silo text,
    written_at    timestamptz not null default now(),
    search        tsvector generated always as (to_tsvector('simple', caption || ' ' || text_found)) stored,
    primary key (video_id, frame_index)
);
create index frames_by_time on frames (video_id, timestamp_s);
create index frames_by_tenant on frames (tenant_id, video_id);
create index frames_search on frames using gin (search);

-- The router's decision for every tile of every frame.
create table frame_tiles (
    video_id    text not null,
    frame_index integer not null,
    tile        integer not null,
    compressed  boolean not null,
    probability real not null,
    tokens      integer not null,
    primary key (video_id, frame_index, tile),
    foreign key (video_id, frame_index) references frames (video_id, frame_index) on delete cascade
);

-- The video-level timeline: consecutive frames with the same content, merged.
create table segments (
    video_id      text not null references videos (video_id) on delete cascade,
    segment_index integer not null,
    start_s       double precision not null,
    end_s         double precision not null,
    first_frame   integer not null,
    last_frame    integer not null,
    caption       text not null,
    texts         text[] not null,
    primary key (video_id, segment_index)
);
