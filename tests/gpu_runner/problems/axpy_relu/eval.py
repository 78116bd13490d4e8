"""The problem's own harness: replaced by StudyBot's judge on import."""
