-- Likely duplicates are looked up by the parent's email or phone (selective), not by school and category (a large
-- school's inquiries of one category would all be read for each new one).
CREATE INDEX inquiries_parent_email ON inquiries ((lower(parent ->> 'email')), category, created_at);
CREATE INDEX inquiries_parent_phone ON inquiries ((parent ->> 'mobile_phone'), category, created_at);
