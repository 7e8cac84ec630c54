-- Staff gain a work email (notify writes to it about what is theirs to do; staff.updated carries it with the name)
-- and the auditor role: auditors read (audit log, cases) and are never given an inquiry.
ALTER TABLE staff ADD COLUMN email text;

ALTER TABLE staff DROP CONSTRAINT staff_role_check;
ALTER TABLE staff ADD CONSTRAINT staff_role_check
    CHECK (role IN ('network_staff', 'psa', 'central_staff', 'auditor'));
