"""The embedded development stack: broker, database, mail catcher, SMS sink and the runner that starts them."""
