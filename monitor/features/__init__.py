"""Log-mel feature extraction, shared by the live pipeline and training."""
