"""The strategy comparison: runs, decoding, statistics and figures."""
