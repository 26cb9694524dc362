"""BL-JUST (bilevel joint unsupervised and supervised training) for espnet2."""

from espnet_bljust.version import __version__  # noqa: F401
