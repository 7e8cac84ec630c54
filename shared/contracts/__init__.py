"""Event contracts and topic names: the only thing services share about each other."""
