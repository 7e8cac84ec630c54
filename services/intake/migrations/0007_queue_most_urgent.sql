-- The console's queue shows each open status most urgent first: the earliest due time of routing's tier (due_at)
-- before the latest arrival, so a busy network's oldest, overdue cases are never beyond the page.
CREATE INDEX inquiries_status_due ON inquiries (status, due_at NULLS LAST, created_at, id);
