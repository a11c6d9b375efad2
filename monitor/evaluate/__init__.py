"""Evaluation: clip-level metrics and reports, event-level scoring of streams."""
