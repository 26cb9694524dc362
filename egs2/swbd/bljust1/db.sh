# shellcheck shell=bash
# Corpus locations (LDC corpora: licensed, never downloaded); the environment overrides
# them (SWBD=/ldc/LDC97S62 EVAL2000="/ldc/LDC2002S09 /ldc/LDC2002T43" ./run.sh).
# SWBD:      Switchboard-1 Release 2 (LDC97S62), searched for sw0NNNN.sph
# SWBD_MS98: the Mississippi State transcripts swb_ms98_transcriptions/ (or a dir holding
#            it); empty: looked for in $SWBD, then in downloads/, where local/data.sh
#            fetches OpenSLR 5's switchboard_word_alignments.tar.gz (not an LDC corpus)
# EVAL2000:  Hub5'00 speech (LDC2002S09, holding hub5e_00/english/*.sph) and transcripts
#            (LDC2002T43, holding reference/hub5e00.english.000405.stm), space separated;
#            one dir holding both works too
SWBD="${SWBD:-}"
SWBD_MS98="${SWBD_MS98:-}"
EVAL2000="${EVAL2000:-}"
