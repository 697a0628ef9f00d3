"""Offline training scripts for newsstream's models (run with ``python -m training.<name>``).

Nothing here is imported by the running pipeline; the scripts write the artefacts that
``streams/enrich/models/`` ships.
"""
