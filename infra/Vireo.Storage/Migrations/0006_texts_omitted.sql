-- How many more distinct texts a completed video had than its result lists: past 256 texts, or past what one
-- status record holds (Kafka:MaxRecordBytes), the rest are counted here instead of listed.
alter table videos add column texts_omitted integer not null default 0;
