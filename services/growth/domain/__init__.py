"""The growth programme's rules as pure functions: no database, no gRPC, and no clock or randomness of
their own (the instant and any random choice come in as arguments), so each rule can be checked alone."""
