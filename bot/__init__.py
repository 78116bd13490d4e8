"""StudyBot: a study-group bot for a 133-day ML-systems interview-prep curriculum."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("studybot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
