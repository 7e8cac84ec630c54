"""``psc``, the platform's command line: the operators' commands, and ``psc run`` for the local stack."""
