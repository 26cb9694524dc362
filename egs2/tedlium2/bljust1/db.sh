# shellcheck shell=bash
# Corpus locations; the environment overrides them (TEDLIUM2=/data/tedlium ./run.sh).
# TEDLIUM2: the TEDLIUM_release2/ dir or a dir holding it. Absent, local/data.sh
# downloads OpenSLR 19's TEDLIUM_release2.tar.gz (~35 GB) into it (--download true).
TEDLIUM2="${TEDLIUM2:-downloads}"
