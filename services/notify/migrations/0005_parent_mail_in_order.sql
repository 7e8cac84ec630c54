-- A parent's acknowledgment email is the first email of the case: the parent's other emails of the inquiry
-- (assigned, ...) wait until it has gone, so nobody reads "the Network 4 office has your inquiry" before "we received
-- it" (the acknowledgment may be held for the catalog's resources, or retried). The dispatcher's claim asks this
-- small index (only acknowledgment emails not yet gone) whether an inquiry has one.
CREATE INDEX deliveries_acknowledgment_not_gone ON deliveries (inquiry_id)
    WHERE template = 'inquiry_received' AND channel = 'email' AND status IN ('pending', 'sending');
