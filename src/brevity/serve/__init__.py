"""`brevity serve`: an OpenAI-compatible reasoning gateway over Brevity's registered methods."""
