# shellcheck shell=bash
# Corpus locations. The demo corpus is synthesized here by local/data.sh.
DEMO="${DEMO:-downloads/demo_corpus}"
