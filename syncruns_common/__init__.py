"""Pieces the Census, Hightouch and Files.com sources share (the same job in each)."""
