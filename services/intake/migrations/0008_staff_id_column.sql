-- Intake's copy of the staff directory has the columns every service's copy has (shared/auth/staff_table.py), so
-- intake follows staff.updated with the same code as notify and the catalog.
ALTER TABLE staff RENAME COLUMN id TO staff_id;
