"""Generated hostile partner files (see corpus.py) and a small engine-like driver (drive.py)."""
