-- pg_iys 0.10.0 -> 0.11.0: a cheaper queue write (issue #16).
--   * outbox_unsettled_key_idx becomes a hash index on the recipient (still only unsettled rows):
--     every query that uses it is an equality on the recipient, and an insert costs one hash and
--     one bucket page instead of a B-tree descent comparing texts at every level.
--   * outbox_pending_idx stops deduplicating: its entries are unique (the id).
-- Only unsettled rows are indexed, so the new index is built from the queue's backlog alone.
DROP INDEX iys.outbox_unsettled_key_idx;
CREATE INDEX outbox_unsettled_key_idx ON iys.outbox USING hash (recipient) WHERE state IN ('pending', 'in_flight');
ALTER INDEX iys.outbox_pending_idx SET (deduplicate_items = off);
