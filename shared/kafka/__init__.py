"""Kafka plumbing: connections from settings, topic creation, the outbox relay, batch consumers, dead letters."""
