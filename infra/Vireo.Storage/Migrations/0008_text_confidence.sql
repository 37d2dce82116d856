-- How sure the model was of the text it read in a frame (0 to 1, before its text threshold); null for frames stored
-- before it was kept and for models whose answers have no text field.
alter table frames add column text_confidence real;
