# Job backend. Only the local machine is wired up yet (see issue 4).
export train_cmd="run.pl"
export decode_cmd="run.pl"
