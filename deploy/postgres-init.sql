-- One database per service: each service owns its schema and migrates it at start-up.
CREATE DATABASE router;
CREATE DATABASE growth;
CREATE DATABASE rewards;
