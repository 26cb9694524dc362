# Corpus locations; the environment overrides them (AN4=/path/to/an4 ./run.sh).
# AN4: the unpacked an4/ dir, a dir holding it, or the an4_sphere.tar.gz archive. Absent,
# local/data.sh downloads the CMU archive into this dir.
AN4="${AN4:-downloads}"
