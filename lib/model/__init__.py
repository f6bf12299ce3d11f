"""Training: shared layers, losses, the face data pipeline, the training loop and the model folder format."""
