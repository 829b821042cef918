"""Context-guided video diffusion (diffusers conventions): the model, its pipeline, training data."""
