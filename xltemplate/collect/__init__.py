"""Collecting returns: import, batch, store, rounds, distribute, annotated copies, reports."""
