"""`skylane demo`: the whole product doing a day's work, and a report a manager would read.

Layers, as in the services: domain/ (the simulated world, the day's plan, tallies, the report's figures:
pure, seeded), service/ (driving the day through the services' gRPC APIs and collecting their reports),
render/ (terminal and HTML with inline SVG charts), app.py (the suite in this process on one movable clock),
cli.py (the command).
"""
