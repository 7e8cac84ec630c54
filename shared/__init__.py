"""The Parent Support Center's own library: what every service uses and no service owns.

Settings base, logging, event contracts and topic names, Kafka and PostgreSQL plumbing (outbox relay, inbox,
dead letters, migrations runner) and the embedded development stack. Nothing here imports a service.
"""
