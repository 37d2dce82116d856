-- Segments arrive one at a time, each on the status event that closed it, so they are keyed by the frame that
-- opens them: a replayed event finds its segment already there. Their order is the order of first_frame.
alter table segments drop constraint segments_pkey;
alter table segments drop column segment_index;
alter table segments add primary key (video_id, first_frame);
