"""Intake: records parents' inquiries (HTTP API and submissions topic), owns their content and status."""
