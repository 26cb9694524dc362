"""Evaluation: per-utterance errors and the statistics of WER ratios across strategies and seeds."""
