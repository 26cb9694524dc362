"""Kaldi lists and audio: reading, checking and formatting the data a recipe trains on."""
