"""Catalog: the directory of district resources (HSDS-shaped); answers lookups over HTTP and Kafka."""
