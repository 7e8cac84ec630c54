-- The parent's status token is a secret (intake keeps only its digest): history rows written before it was left out
-- of them lose it.
UPDATE history SET detail = detail - 'status_token' WHERE event_type = 'inquiry.submitted' AND detail ? 'status_token';
