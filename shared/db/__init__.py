"""PostgreSQL plumbing: pool, migrations runner, unit of work. Each service owns one schema."""
