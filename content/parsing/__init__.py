"""Parsers for the three seed text formats: the question bank, day plans, the interview guide."""
