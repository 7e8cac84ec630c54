"""Routing: the directory (networks, schools), assignment to the network serving the student's school, SLA deadlines."""
