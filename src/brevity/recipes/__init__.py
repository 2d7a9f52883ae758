"""Training recipes; each writes an ordinary HF model folder plus a manifest."""
