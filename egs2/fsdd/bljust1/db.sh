# Corpus locations; the environment overrides them (FSDD=/path/to/fsdd ./run.sh).
# FSDD: the root of an FSDD copy (recordings/*.wav; the shared copy's recordings_16k/ works
# too) or its release archive. Absent, local/data.sh downloads release v1.0.10 to this path.
FSDD="${FSDD:-downloads/free-spoken-digit-dataset-1.0.10}"
