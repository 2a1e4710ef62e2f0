"""Queries and persistence of the rewards database, one module per table or read model.

Every counter change is one conditional statement whose returned row (or rowcount) says whether it
fitted, executed inside the caller's transaction so it commits or rolls back with its effect. The hot
calls (Offer, Claim, Redeem) fold "insert if missing, then read or change" into one
INSERT … ON CONFLICT … RETURNING (SQLite ≥ 3.35 and PostgreSQL both have it), touch rows by primary
key only, and run statements that are built once with bind parameters: on SQLite, building and
compiling a statement costs more than running it.

Lock order everywhere: coupon/decision → assignment → budget → budget day.
"""
