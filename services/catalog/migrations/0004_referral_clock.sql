-- A referral's own clock: it warns at 75% of the department's reply time and escalates at the deadline, once each.
ALTER TABLE referral
    ADD COLUMN warn_at      timestamptz,
    ADD COLUMN warned_at    timestamptz,
    ADD COLUMN escalated_at timestamptz;
UPDATE referral SET warn_at = referred_at + (reply_due_at - referred_at) * 0.75 WHERE warn_at IS NULL;
ALTER TABLE referral ALTER COLUMN warn_at SET NOT NULL;
-- What the sweep looks for: open referrals whose warning or deadline has not fired yet, by when it falls due.
CREATE INDEX referral_next_due ON referral ((CASE WHEN warned_at IS NULL THEN warn_at ELSE reply_due_at END))
    WHERE status = 'open' AND escalated_at IS NULL;
