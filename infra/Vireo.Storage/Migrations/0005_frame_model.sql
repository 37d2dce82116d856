-- The model that computed each frame (checkpoint, kind, dtype and device of its vision and language sides), as the
-- frame's event named it: a video's result lists the models its frames came from. Null for frames stored before.
alter table frames add column model jsonb;
