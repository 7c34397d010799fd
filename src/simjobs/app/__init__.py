"""The simjobs Textual app: ``SimjobsApp`` (app.py) over a :class:`~.backend.Backend`.

Importing this package does not import Textual; ``simjobs.app.app`` does.
"""
