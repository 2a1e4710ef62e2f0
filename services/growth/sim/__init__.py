"""Growth has no simulator yet: its behaviour is exercised by the integration tests against a real
server. A simulator of member activity would live here, imported by the CLI and the demo, never by
the code that serves requests."""
