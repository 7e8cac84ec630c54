"""Notify: tells parents by email and text, in their language, what happens to their inquiry."""
