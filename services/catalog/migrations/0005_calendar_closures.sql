-- The district's emergency closures, as routing announces them (calendar.closure_added): referral reply clocks do not
-- run on those days. Kept here so a start (or another replica) builds the same calendar without asking routing.
CREATE TABLE calendar_closure (
    day      date PRIMARY KEY,
    reason   text        NOT NULL,
    added_at timestamptz NOT NULL
);
-- How many business days the department was given: a closure recomputes the due time from the referral's own
-- count, not today's setting. NULL for referrals made before this column: they take the setting.
ALTER TABLE referral ADD COLUMN reply_business_days int CHECK (reply_business_days > 0);
-- What a closure looks for: referrals still awaiting a reply, by due time.
CREATE INDEX referral_awaiting_reply ON referral (reply_due_at) WHERE status = 'open' AND escalated_at IS NULL;
