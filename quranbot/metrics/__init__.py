"""Prometheus metrics for the operator: one registry per bot, read at scrape time, served on `/metrics`."""
