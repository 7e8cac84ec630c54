"""The embedded development stack: broker, database, mail catcher, SMS sink and the runner that starts them.

Never imported by ``shared`` or the services. Each module imports the wheels it needs itself: the SMS sink
(``devstack.smssink``, run from the container image by docker-compose) needs only the base dependencies; the mail
catcher, broker, database and runner need the ``embedded`` extra.
"""
