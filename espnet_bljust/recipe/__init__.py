"""What the recipe stages call beyond espnet2: the token LM and the model card."""
