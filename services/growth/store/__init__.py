"""Queries and persistence of the growth database: each function runs statements on the session it is
given and decides nothing the programme's rules decide (those live in domain/ and service/)."""
