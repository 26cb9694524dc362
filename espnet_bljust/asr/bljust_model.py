"""BLJUSTModel: espnet2's ESPnetASRModel plus an unsupervised head on the same encoder."""

from contextlib import contextmanager
from typing import Dict, List, Optional, Tuple

import torch
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.torch_utils.device_funcs import force_gatherable
from typeguard import typechecked

from espnet_bljust.asr.ctc_error import ctc_greedy_wer
from espnet_bljust.bilevel.state import BilevelState
from espnet_bljust.unsup.abs_unsup_loss import AbsUnsupLoss

OBJECTIVES = ("supervised", "unsupervised", "joint")  # f, g, f and g
UPPER_UNSUP_SOURCES = ("labeled_shared", "labeled", "unlabeled")


class _MaskedPass:
    """What one masked encoder pass leaves for the unsupervised loss."""

    encoder_out: torch.Tensor  # (B, T', D)
    encoder_out_lens: torch.Tensor  # (B,)
    target_feats: torch.Tensor  # (B, T, F) clean features
    feats_lengths: torch.Tensor  # (B,)
    mask: torch.Tensor  # (B, T // stride)


class BLJUSTModel(ESPnetASRModel):
    """One shared encoder theta, supervised head phi, unsupervised head eta.

    - theta: frontend, normalize, preencoder, encoder, postencoder;
    - phi: CTC (and the attention decoder / joint network when configured);
    - eta: ``unsup_loss`` (mask embedding and prediction layers).

    ``forward`` keeps ESPnetASRModel's signature and meaning (the supervised
    loss f), so validation and every espnet2 tool work unchanged; the keyword
    ``objective`` selects the other objectives through the same ``forward`` (so
    DistributedDataParallel sees every pass):

    - ``objective="unsupervised"``: g on ``speech`` -> (loss_g, stats, weight)
    - ``objective="joint"``: f and g -> ((loss_f, loss_g), stats, weight); where g
      comes from is ``unsup_source`` (see :meth:`forward_joint`).

    The saved ``config.yaml`` keeps ``model: espnet`` and the model_conf of
    ESPnetASRModel, so the unmodified ``espnet2.bin.asr_inference`` builds an
    ESPnetASRModel from it and ignores ``unsup_loss.*`` and ``bilevel_state.*``.

    Args:
        unsup_loss: the unsupervised loss g and its head eta.
        **asr_kwargs: ESPnetASRModel's arguments.
    """

    @typechecked
    def __init__(self, unsup_loss: Optional[AbsUnsupLoss], **asr_kwargs):
        super().__init__(**asr_kwargs)
        self.unsup_loss = unsup_loss
        self.bilevel_state = BilevelState()
        self._captured: Optional[List[_MaskedPass]] = None
        self._wer_ctc: Optional[float] = None

    @classmethod
    def from_asr_model(
        cls,
        base: ESPnetASRModel,
        model_conf: dict,
        unsup_loss: Optional[AbsUnsupLoss],
    ) -> "BLJUSTModel":
        """Build from the parts of an ESPnetASRModel that ASRTask built."""
        return cls(
            unsup_loss=unsup_loss,
            vocab_size=base.vocab_size,
            token_list=base.token_list,
            frontend=base.frontend,
            specaug=base.specaug,
            normalize=base.normalize,
            preencoder=base.preencoder,
            encoder=base.encoder,
            postencoder=base.postencoder,
            decoder=base.decoder,
            ctc=base.ctc,
            joint_network=getattr(base, "joint_network", None),
            **model_conf,
        )

    # ------------------------------------------------------------------ groups
    def parameter_groups(self) -> Dict[str, List[torch.nn.Parameter]]:
        """Split the parameters into theta ("shared"), phi ("supervised"), eta.

        Returns:
            {"shared": [...], "supervised": [...], "unsupervised": [...]}
        """
        supervised_modules = [
            self.ctc, self.decoder, getattr(self, "joint_network", None)
        ]
        phi = {
            id(p): p
            for m in supervised_modules
            if m is not None
            for p in m.parameters()
        }
        eta = {}
        if self.unsup_loss is not None:
            eta = {id(p): p for p in self.unsup_loss.parameters()}
        theta = [
            p for p in self.parameters() if id(p) not in phi and id(p) not in eta
        ]
        return dict(
            shared=theta, supervised=list(phi.values()), unsupervised=list(eta.values())
        )

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: Optional[torch.Tensor] = None,
        text_lengths: Optional[torch.Tensor] = None,
        objective: str = "supervised",
        unsup_source: str = "labeled_shared",
        unlabeled_speech: Optional[torch.Tensor] = None,
        unlabeled_speech_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ):
        """Compute one ``objective`` (the two levels use them: the lower level
        g, the upper level f, or f and g in the joint phase).

        Args:
            speech: (B, L) waveforms (or (B, T, F) features without frontend).
            speech_lengths: (B,)
            text: (B, U) token ids; needed for "supervised" and "joint".
            text_lengths: (B,)
            objective: "supervised" (f), "unsupervised" (g) or "joint" (f and g).
            unsup_source: where "joint" takes g from (see forward_joint).
            unlabeled_speech: (B2, L2) for unsup_source="unlabeled".
            unlabeled_speech_lengths: (B2,)
        """
        if "level" in kwargs:  # the keyword's former name: fail, never pass it on silently
            raise TypeError("BLJUSTModel.forward: 'level' is now called 'objective'")
        if objective == "supervised":
            self._wer_ctc = None
            loss, stats, weight = super().forward(
                speech, speech_lengths, text, text_lengths, **kwargs
            )
            if self._wer_ctc is not None:
                # the shape espnet2 gives every stat (its distributed averaging needs it)
                stats["wer_ctc"] = force_gatherable(torch.tensor(self._wer_ctc), loss.device)
                self._wer_ctc = None
            return loss, stats, weight
        if objective == "unsupervised":
            return self.forward_unsupervised(speech, speech_lengths)
        if objective == "joint":
            return self.forward_joint(
                speech,
                speech_lengths,
                text,
                text_lengths,
                unsup_source,
                unlabeled_speech,
                unlabeled_speech_lengths,
                **kwargs,
            )
        raise ValueError(f"objective must be one of {OBJECTIVES}: {objective}")

    def collect_feats(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: Optional[torch.Tensor] = None,
        text_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ) -> Dict[str, torch.Tensor]:
        """Frontend features for ``--collect_stats``; text is optional (unlabeled).

        Returns:
            {"feats": (B, T, F), "feats_lengths": (B,)}
        """
        feats, feats_lengths = self._extract_feats(speech, speech_lengths)
        return {"feats": feats, "feats_lengths": feats_lengths}

    def forward_unsupervised(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor], torch.Tensor]:
        """g(theta, eta) on a batch of (unlabeled) speech.

        Returns:
            loss: scalar; stats: detached scalars; weight: batch size.
        """
        loss, stats = self._unsup_loss(self._encode_masked(speech, speech_lengths))
        return force_gatherable((loss, stats, speech.shape[0]), loss.device)

    def forward_joint(
        self,
        speech: torch.Tensor,
        speech_lengths: torch.Tensor,
        text: torch.Tensor,
        text_lengths: torch.Tensor,
        unsup_source: str = "labeled_shared",
        unlabeled_speech: Optional[torch.Tensor] = None,
        unlabeled_speech_lengths: Optional[torch.Tensor] = None,
        **kwargs,
    ):
        """f(theta, phi) and g(theta, eta) for one upper step.

        unsup_source:
            - "labeled_shared": one encoder pass over the masked labeled audio;
              f (CTC/attention) and g both read its output. The masking then
              also acts as time masking for the supervised loss.
            - "labeled": f on the clean labeled audio, g on a masked second
              pass over the same audio.
            - "unlabeled": f on the labeled audio, g on ``unlabeled_speech``.

        Returns:
            (loss_f, loss_g): scalars that keep their graphs;
            stats: supervised stats plus ``loss_unsup``...; weight: batch size.
        """
        if unsup_source not in UPPER_UNSUP_SOURCES:
            raise ValueError(
                f"unsup_source must be one of {UPPER_UNSUP_SOURCES}: {unsup_source}"
            )
        if unsup_source == "labeled_shared":
            with self._capture_masked_pass() as holder:
                loss_f, stats, weight = super().forward(
                    speech, speech_lengths, text, text_lengths, **kwargs
                )
            loss_g, unsup_stats = self._unsup_loss(holder[0])
        else:
            loss_f, stats, weight = super().forward(
                speech, speech_lengths, text, text_lengths, **kwargs
            )
            if unsup_source == "labeled":
                masked = self._encode_masked(speech, speech_lengths)
            else:
                if unlabeled_speech is None or unlabeled_speech_lengths is None:
                    raise ValueError("unsup_source='unlabeled' needs unlabeled_speech")
                masked = self._encode_masked(unlabeled_speech, unlabeled_speech_lengths)
            loss_g, unsup_stats = self._unsup_loss(masked)
        stats = dict(stats)
        stats.update(unsup_stats)
        return (loss_f, loss_g), stats, weight

    def _calc_ctc_loss(
        self,
        encoder_out: torch.Tensor,
        encoder_out_lens: torch.Tensor,
        ys_pad: torch.Tensor,
        ys_pad_lens: torch.Tensor,
    ):
        """ESPnetASRModel's CTC loss and cer_ctc; in evaluation with
        ``report_wer``, also the CTC greedy WER of the first call (the final
        encoder layer; intermediate CTC calls come after it), which
        ``forward`` reports as ``wer_ctc``.

        Args:
            encoder_out: (B, T', D); encoder_out_lens: (B,);
            ys_pad: (B, U) padded with ignore_id; ys_pad_lens: (B,).
        """
        loss_ctc, cer_ctc = super()._calc_ctc_loss(
            encoder_out, encoder_out_lens, ys_pad, ys_pad_lens
        )
        calc = getattr(self, "error_calculator", None)
        if not self.training and calc is not None and calc.report_wer and self._wer_ctc is None:
            self._wer_ctc = ctc_greedy_wer(
                self.ctc.argmax(encoder_out).detach(), encoder_out_lens, ys_pad,
                self.token_list, self.blank_id, calc.space, self.ignore_id,
            )  # fmt: skip
        return loss_ctc, cer_ctc

    # ------------------------------------------------------------ masked pass
    def encode(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """ESPnetASRModel.encode, or the masked pass while one is being captured."""
        if self._captured is None:
            return super().encode(speech, speech_lengths)
        result = self._encode_masked(speech, speech_lengths)
        self._captured.append(result)
        return result.encoder_out, result.encoder_out_lens

    @contextmanager
    def _capture_masked_pass(self):
        """Make ``encode`` mask its input and keep what the unsup loss needs."""
        holder: List[_MaskedPass] = []
        self._captured = holder
        try:
            yield holder
        finally:
            self._captured = None

    def _encode_masked(
        self, speech: torch.Tensor, speech_lengths: torch.Tensor
    ) -> _MaskedPass:
        """Frontend -> specaug -> normalize -> mask -> encoder.

        Targets come from the same features without specaug and without the
        mask, so nothing the loss predicts is visible at the masked frames.
        """
        if self.unsup_loss is None:
            raise RuntimeError("this model has no unsupervised loss (unsup_loss=None)")
        # As ESPnetASRModel.encode: the frontend, specaug and normalize run
        # outside AMP's autocast unless autocast_frontend (float16 features
        # made every unsupervised loss NaN on a GPU).
        with torch.autocast(speech.device.type, enabled=self.autocast_frontend):
            raw, feats_lengths = self._extract_feats(speech, speech_lengths)
            augment = self.specaug is not None and self.training
            feats = self.specaug(raw, feats_lengths)[0] if augment else raw
            if self.normalize is not None:
                feats = self.normalize(feats, feats_lengths)[0]
                clean = self.normalize(raw, feats_lengths)[0] if augment else feats
            else:
                clean = raw

        mask = self.unsup_loss.sample_mask(feats_lengths).to(feats.device)
        masked_feats = self.unsup_loss.mask_features(feats, mask)
        encoder_out, encoder_out_lens = self._encode_features(
            masked_feats, feats_lengths
        )
        result = _MaskedPass()
        result.encoder_out = encoder_out
        result.encoder_out_lens = encoder_out_lens
        result.target_feats = clean.detach()
        result.feats_lengths = feats_lengths
        result.mask = mask
        return result

    def _encode_features(
        self, feats: torch.Tensor, feats_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Preencoder -> encoder -> postencoder, as in ESPnetASRModel.encode.

        Returns the final encoder output (B, T', D) (intermediate CTC outputs,
        if any, are dropped: the supervised forward handles those) and (B,).
        """
        if self.preencoder is not None:
            feats, feats_lengths = self.preencoder(feats, feats_lengths)
        if self.encoder is None:
            encoder_out, encoder_out_lens = feats, feats_lengths
        elif getattr(self.encoder, "interctc_use_conditioning", False):
            encoder_out, encoder_out_lens, _ = self.encoder(
                feats, feats_lengths, ctc=self.ctc
            )
        else:
            encoder_out, encoder_out_lens, _ = self.encoder(feats, feats_lengths)
        if isinstance(encoder_out, tuple):
            encoder_out = encoder_out[0]
        if self.postencoder is not None:
            encoder_out, encoder_out_lens = self.postencoder(
                encoder_out, encoder_out_lens
            )
        return encoder_out, encoder_out_lens

    def _unsup_loss(self, masked: _MaskedPass):
        return self.unsup_loss(
            masked.encoder_out,
            masked.encoder_out_lens,
            masked.target_feats,
            masked.feats_lengths,
            masked.mask,
        )
