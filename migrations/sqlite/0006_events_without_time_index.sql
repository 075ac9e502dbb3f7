-- No index on events(time) (issue 7): every event a send appended also went into it, two
-- B-tree inserts per one-to-one message (7% of the send writer's instructions in callgrind),
-- for the sake of pruning alone. Pruning now deletes the oldest events in the order they were
-- appended (rowid order), up to the first one still within the retention (`Store::prune_events`).

DROP INDEX events_time;
