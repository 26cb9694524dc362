"""BLJUSTTask: espnet2's ASR task with an unlabeled stream and a bilevel trainer."""

import argparse
import copy
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from espnet2.samplers.build_batch_sampler import build_batch_sampler
from espnet2.tasks.abs_task import IteratorOptions, optim_classes, scheduler_classes
from espnet2.tasks.asr import ASRTask
from espnet2.train.dataset import ESPnetDataset
from espnet2.train.distributed_utils import DistributedOption
from espnet2.utils.get_default_kwargs import get_default_kwargs
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import int_or_none, str2bool, str2triple_str, str_or_none
from typeguard import typechecked

from espnet_bljust.asr.bljust_model import UPPER_UNSUP_SOURCES, BLJUSTModel
from espnet_bljust.bilevel.penalty_schedule import GAMMA_SHAPES
from espnet_bljust.bilevel.phases import PHASE_UNITS, phase_unit
from espnet_bljust.bilevel.strategy import STRATEGY_NAMES, get_strategy
from espnet_bljust.iterators.batch_stream import (
    BatchStream,
    distributed_rank,
    shard_batches,
)
from espnet_bljust.iterators.batch_bins import cap_batch_bins, padded_bins, shape_lengths
from espnet_bljust.iterators.bilevel_iter_factory import BilevelIterFactory
from espnet_bljust.iterators.crop import (
    CroppingCollate,
    add_crop_arguments,
    cropped_lengths,
    resolve_max_length,
)
from espnet_bljust.main_funcs.collect_unlabeled_stats import collect_unlabeled_stats
from espnet_bljust.tasks.settings_checks import add_check_arguments, check_before_training
from espnet_bljust.train.bljust_trainer import BLJUSTTrainer
from espnet_bljust.train.resume_check import check_resume_options
from espnet_bljust.tasks.unsup_loss_build import build_unsup_loss, check_unsup_loss_conf
from espnet_bljust.unsup import unsup_loss_choices
from espnet_bljust.data.list_checks import check_labeled_lists, check_unlabeled_lists

def comma_separated_list(value: str) -> List[str]:
    """'a,b' -> ['a', 'b'] (argparse type)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def token_check_options(args: argparse.Namespace) -> Dict[str, Any]:
    """Options of the transcript-vs-token-list check, or {} where espnet2's
    text processing (cleaner, g2p, non-linguistic symbols) changes the text
    before it is tokenized."""
    if (
        args.token_type not in ("char", "word", "bpe")
        or getattr(args, "cleaner", None) is not None
        or getattr(args, "g2p", None) is not None
        or getattr(args, "non_linguistic_symbols", None) is not None
        or args.token_list is None
    ):
        return {}
    return dict(token_list=args.token_list, token_type=args.token_type, bpemodel=args.bpemodel)


def needs_unlabeled_stream(args: argparse.Namespace) -> bool:
    """Whether the chosen strategy reads unlabeled speech."""
    strategy = get_strategy(args.strategy)
    return strategy.needs_unlabeled_stream(args.upper_unsup_source, args.exploration_len)


class BLJUSTTask(ASRTask):
    """ASR with joint unsupervised + supervised training (BL-JUST and baselines).

    Adds to ``espnet2.tasks.asr.ASRTask``: the unlabeled stream, the
    ``--unsup_loss`` registry, the bilevel settings, and a lower-level
    optimizer/scheduler (``--lower_optim``...). The model is a
    :class:`BLJUSTModel`; its config.yaml decodes with espnet2's own
    ``asr_inference``.
    """

    class_choices_list = ASRTask.class_choices_list + [unsup_loss_choices]
    trainer = BLJUSTTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        super().add_task_arguments(parser)
        group = parser.add_argument_group(description="BL-JUST related")
        group.add_argument(
            "--unlabeled_data_path_and_name_and_type",
            type=str2triple_str,
            action="append",
            default=[],
            help="The unlabeled speech stream, e.g. "
            "'dump/raw/train_unlabeled/wav.scp,speech,sound' (no text)",
        )
        group.add_argument(
            "--unlabeled_shape_file",
            type=str,
            action="append",
            default=[],
            help="Shape file(s) of the unlabeled stream (speech only)",
        )
        group.add_argument(
            "--unlabeled_batch_size",
            type=int_or_none,
            default=None,
            help="Mini-batch size of the unlabeled stream (default: --batch_size)",
        )
        group.add_argument(
            "--unlabeled_batch_bins",
            type=int_or_none,
            default=None,
            help="batch_bins of the unlabeled stream (default: --batch_bins)",
        )
        group.add_argument(
            "--match_unlabeled_batch_bins",
            type=str2bool,
            default=False,
            help="Split unlabeled mini-batches that hold more padded audio (batch "
            "size x longest utterance) than the labeled stream's largest, so that "
            "reading unlabeled speech peaks no higher than supervised training",
        )
        add_crop_arguments(group)
        group.add_argument(
            "--strategy",
            type=str,
            default="bljust",
            choices=STRATEGY_NAMES,
            help="bljust: PBGD bilevel; just: f + lambda*g single level; "
            "pt_ft: g for the exploration phase, then f; supervised: f only",
        )
        group.add_argument(
            "--lower_steps_per_upper",
            type=int,
            default=1,
            help="K: lower-level steps of g before each upper step (joint phase)",
        )
        group.add_argument("--gamma_init", type=float, default=0.1, help="Initial gamma")
        group.add_argument("--gamma_max", type=float, default=1.0, help="Final gamma")
        group.add_argument(
            "--gamma_shape",
            type=str,
            default="linear",
            choices=GAMMA_SHAPES,
            help="How gamma rises from gamma_init to gamma_max",
        )
        group.add_argument(
            "--gamma_ramp_steps",
            type=int,
            default=0,
            help="Upper steps over which gamma rises; <= 0: the whole joint phase",
        )
        group.add_argument(
            "--pbgd_step_scaling",
            type=str2bool,
            default=True,
            help="Scale the upper step size by min(1, 1/gamma), as PBGD does",
        )
        group.add_argument(
            "--just_weight",
            type=float,
            default=0.3,
            help="lambda of the 'just' strategy's fixed objective f + lambda*g",
        )
        group.add_argument(
            "--upper_unsup_source",
            type=str,
            default="unlabeled",
            choices=UPPER_UNSUP_SOURCES,
            help="Audio the upper step's g is computed on: unlabeled (a fresh "
            "unlabeled batch, the paper's penalty), labeled_shared (a cheaper "
            "variant: one masked pass over the labeled batch feeds f and g, so f "
            "also sees the mask), labeled (a second masked pass over it)",
        )
        group.add_argument(
            "--phase_unit",
            type=phase_unit,
            default="epoch",
            choices=PHASE_UNITS,
            help="Unit of --exploration_len/--joint_len/--finetune_len: epoch, or "
            "tick (one unit of the phase plan; 'step', its older name, still works)",
        )
        group.add_argument(
            "--exploration_len",
            type=int,
            default=0,
            help="N1: unsupervised-only exploration (pre-training for pt_ft)",
        )
        group.add_argument(
            "--joint_len",
            type=int,
            default=-1,
            help="N2: joint phase length; < 0: until the fine-tune phase",
        )
        group.add_argument(
            "--finetune_len",
            type=int,
            default=0,
            help="N3: supervised-only fine-tuning at the end",
        )
        group.add_argument(
            "--grad_cosine_interval",
            type=int,
            default=50,
            help="Report cos(grad f, grad g) on the shared encoder every N upper "
            "steps of the joint phase (0: never)",
        )
        group.add_argument(
            "--max_nonfinite_steps",
            type=int,
            default=100,
            help="Stop after this many consecutive steps with a non-finite "
            "loss or gradient",
        )
        group.add_argument(
            "--keep_last_checkpoints",
            type=int,
            default=2,
            help="Full checkpoints (model, optimizers, schedulers, bilevel state) "
            "kept under <output_dir>/checkpoints as hard links; a resume falls "
            "back to an older one when the newest cannot be read. 0: only "
            "checkpoint.pth",
        )
        group.add_argument(
            "--malloc_trim",
            type=str2bool,
            default=False,
            help="After every optimizer step and between the upper step's f and g "
            "passes, give the free pages of glibc's heap back to the system "
            "(malloc_trim; no-op without glibc): lower peak memory when batch "
            "shapes vary, same numbers up to float rounding",
        )
        add_check_arguments(group)
        group.add_argument(
            "--resume_allow_changes",
            type=comma_separated_list,
            default=[],
            help="Option names that --resume true accepts to differ from the "
            "saved config.yaml (comma separated); any other change is an error",
        )
        group.add_argument(
            "--lower_optim",
            type=lambda x: x.lower(),
            default="adam",
            choices=list(optim_classes),
            help="The lower-level (unsupervised) optimizer",
        )
        group.add_argument(
            "--lower_optim_conf",
            action=NestedDictAction,
            default=dict(),
            help="The keyword arguments of the lower-level optimizer",
        )
        group.add_argument(
            "--lower_scheduler",
            type=lambda x: str_or_none(x.lower()),
            default=None,
            choices=list(scheduler_classes) + [None],
            help="The lower-level lr scheduler",
        )
        group.add_argument(
            "--lower_scheduler_conf",
            action=NestedDictAction,
            default=dict(),
            help="The keyword arguments of the lower-level lr scheduler",
        )

    @classmethod
    @typechecked
    def get_default_config(cls) -> Dict[str, Any]:
        config = super().get_default_config()
        optim_class = optim_classes[config["lower_optim"]]
        conf = get_default_kwargs(optim_class)
        conf.update(config["lower_optim_conf"])
        config["lower_optim_conf"] = conf
        if config["lower_scheduler"] is not None:
            conf = get_default_kwargs(scheduler_classes[config["lower_scheduler"]])
            conf.update(config["lower_scheduler_conf"])
            config["lower_scheduler_conf"] = conf
        return config

    # ------------------------------------------------------------------ model
    @classmethod
    @typechecked
    def build_model(cls, args: argparse.Namespace) -> BLJUSTModel:
        if getattr(args, "model", "espnet") != "espnet":
            raise ValueError(
                f"BL-JUST builds on ESPnetASRModel (--model espnet), got "
                f"--model {args.model}"
            )
        check_unsup_loss_conf(args)
        base = super().build_model(args)
        unsup_loss = build_unsup_loss(args, base)
        return BLJUSTModel.from_asr_model(base, args.model_conf, unsup_loss)

    @classmethod
    def build_optimizers(
        cls, args: argparse.Namespace, model: torch.nn.Module
    ) -> List[torch.optim.Optimizer]:
        """[upper: theta+phi+eta, lower: theta+eta], each its own class and conf.

        espnet2 builds the scheduler of the second optimizer from
        ``args.scheduler2``; it is set here from ``--lower_scheduler``.
        """
        groups = model.parameter_groups()
        upper_params = groups["shared"] + groups["supervised"] + groups["unsupervised"]
        lower_params = groups["shared"] + groups["unsupervised"]
        upper = optim_classes[args.optim](upper_params, **args.optim_conf)
        lower = optim_classes[args.lower_optim](lower_params, **args.lower_optim_conf)
        args.scheduler2 = args.lower_scheduler
        args.scheduler2_conf = args.lower_scheduler_conf
        return [upper, lower]

    # ------------------------------------------------------------- iterators
    @classmethod
    def check_training_data(cls, args: argparse.Namespace) -> None:
        """Refuse bad or missing training data before the first step."""
        check_labeled_lists(
            args.train_data_path_and_name_and_type,
            "labeled training data",
            **token_check_options(args),
        )
        check_labeled_lists(
            args.valid_data_path_and_name_and_type, "validation data"
        )
        if needs_unlabeled_stream(args):
            check_unlabeled_lists(
                args.unlabeled_data_path_and_name_and_type,
                args.unlabeled_shape_file,
                f"unlabeled data (needed by --strategy {args.strategy})",
            )

    @classmethod
    def build_iter_factory(
        cls,
        args: argparse.Namespace,
        distributed_option: DistributedOption,
        mode: str,
        kwargs: Optional[dict] = None,
    ):
        if mode != "train":
            return super().build_iter_factory(args, distributed_option, mode, kwargs)
        if args.iterator_type != "sequence":
            raise ValueError(
                f"BL-JUST supports --iterator_type sequence, got {args.iterator_type}"
            )
        iter_options = cls.build_iter_options(args, distributed_option, mode)
        labeled = cls.build_batch_stream(args, iter_options, "labeled")
        unlabeled = None
        if needs_unlabeled_stream(args) or args.unlabeled_data_path_and_name_and_type:
            unlabeled_options = copy.copy(iter_options)
            unlabeled_options.data_path_and_name_and_type = (
                args.unlabeled_data_path_and_name_and_type
            )
            unlabeled_options.shape_files = args.unlabeled_shape_file
            if args.unlabeled_batch_size is not None:
                unlabeled_options.batch_size = args.unlabeled_batch_size
            if args.unlabeled_batch_bins is not None:
                unlabeled_options.batch_bins = args.unlabeled_batch_bins
            max_length = resolve_max_length(
                args.unlabeled_max_length, iter_options.shape_files[0]
            )
            multiple = args.unlabeled_length_multiple
            if max_length is not None or multiple > 0:
                unlabeled_options.collate_fn = CroppingCollate(
                    iter_options.collate_fn, max_length, args.seed, length_multiple=multiple
                )
            max_bins = None
            if args.match_unlabeled_batch_bins:
                lengths = shape_lengths(iter_options.shape_files[0])
                batches = cls.sample_batches(args, iter_options)
                max_bins = max(padded_bins(b, lengths) for b in batches)
            unlabeled = cls.build_batch_stream(
                args, unlabeled_options, "unlabeled", max_bins, max_length, multiple
            )
        logging.info(f"[train] {labeled}")
        logging.info(f"[train] {unlabeled}")
        return BilevelIterFactory(
            labeled, unlabeled, args.num_iters_per_epoch, args.accum_grad
        )

    @classmethod
    def sample_batches(
        cls, args: argparse.Namespace, iter_options: IteratorOptions
    ) -> List[List[str]]:
        """espnet2's batch sampler's mini-batches (all ranks' utterances)."""
        shape_files = list(iter_options.shape_files)
        world_size = distributed_rank()[1]
        sampler = build_batch_sampler(
            type=iter_options.batch_type,
            shape_files=shape_files,
            fold_lengths=args.fold_length[: len(shape_files)],
            batch_size=iter_options.batch_size,
            batch_bins=iter_options.batch_bins,
            sort_in_batch=args.sort_in_batch,
            sort_batch=args.sort_batch,
            drop_last=args.drop_last_iter,
            min_batch_size=world_size if world_size > 1 else args.min_batch_size,
        )
        return [list(b) for b in sampler]

    @classmethod
    def build_batch_stream(
        cls,
        args: argparse.Namespace,
        iter_options: IteratorOptions,
        name: str,
        max_bins: Optional[int] = None,
        max_length: Optional[int] = None,
        length_multiple: int = 0,
    ) -> BatchStream:
        """Batches (sampled, split above ``max_bins`` padded samples, sharded
        per rank) -> BatchStream. ``max_length`` and ``length_multiple``: the
        length the collate function crops utterances to and the multiple it
        pads batches to, which the padded samples count."""
        rank, world_size = distributed_rank()
        batches = cls.sample_batches(args, iter_options)
        if max_bins is not None:
            lengths = shape_lengths(iter_options.shape_files[0])
            lengths = cropped_lengths(lengths, max_length, length_multiple)
            batches = cap_batch_bins(batches, lengths, max_bins, world_size)
        if world_size > 1:
            batches = shard_batches(batches, rank, world_size, name)
        keys = {uid for batch in batches for uid in batch}
        dataset = ESPnetDataset(
            iter_options.data_path_and_name_and_type,
            float_dtype=args.train_dtype,
            preprocess=iter_options.preprocess_fn,
            max_cache_size=iter_options.max_cache_size,
            max_cache_fd=iter_options.max_cache_fd,
            allow_multi_rates=iter_options.allow_multi_rates,
            keys_to_load=keys,
        )
        if name == "labeled":
            cls.check_task_requirements(dataset, args.allow_variable_data_keys, True)
        elif not dataset.has_name("speech"):
            raise RuntimeError(f"the {name} stream needs 'speech', got {dataset.names()}")
        return BatchStream(
            dataset,
            batches,
            collate_fn=iter_options.collate_fn,
            seed=args.seed,
            shuffle=True,
            num_workers=args.num_workers,
            pin_memory=args.ngpu > 0,
            name=name,
        )

    @classmethod
    def main_worker(cls, args: argparse.Namespace):
        # Lower steps leave phi unused and supervised steps leave eta unused:
        # DistributedDataParallel must be told. (No logging here: logging is
        # configured inside main_worker.)
        args.unused_parameters = True
        if not args.collect_stats:
            # Before the model is built and anything is written.
            check_before_training(args, needs_unlabeled_stream(args))
            parser = cls.get_parser()
            check_resume_options(args, {a.dest: a.default for a in parser._actions})
            check_unsup_loss_conf(args)
            cls.check_training_data(args)
        super().main_worker(args)
        if args.collect_stats and args.unlabeled_data_path_and_name_and_type:
            cls.collect_unlabeled_stats(args)

    @classmethod
    def collect_unlabeled_stats(cls, args: argparse.Namespace) -> None:
        """``--collect_stats true``: add the unlabeled stream to the train stats.

        Shapes go to ``<output_dir>/unlabeled/speech_shape``; the feature sums
        are added into ``<output_dir>/train/feats_stats.npz`` (labeled-only copy
        kept as ``feats_stats.labeled.npz``), so ``global_mvn`` sees both.
        """
        model = cls.build_model(args).to(
            dtype=getattr(torch, args.train_dtype),
            device="cuda" if args.ngpu > 0 else "cpu",
        )
        key_file = args.unlabeled_shape_file[0] if args.unlabeled_shape_file else None
        iterator = cls.build_streaming_iterator(
            data_path_and_name_and_type=args.unlabeled_data_path_and_name_and_type,
            key_file=key_file,
            batch_size=args.batch_size,
            dtype=args.train_dtype,
            num_workers=args.num_workers,
            allow_variable_data_keys=args.allow_variable_data_keys,
            ngpu=args.ngpu,
            preprocess_fn=cls.build_preprocess_fn(args, train=False),
            collate_fn=cls.build_collate_fn(args, train=False),
            inference=True,  # speech only: no text required
            mode="train",
        )
        collect_unlabeled_stats(
            model, iterator, Path(args.output_dir), args.ngpu, args.log_interval
        )
