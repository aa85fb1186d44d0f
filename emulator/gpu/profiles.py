"""What each model family costs the reference card (an RTX 4080 running A1111), as data.

Every figure is in MiB or seconds; the derivation and the published numbers behind each constant are in
docs/emulator.md, "GPU model". `vram` and `timing` turn these into memory and durations.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.models.arch import Arch


@dataclass(frozen=True)
class ArchProfile:
    """What one model family costs. Parameter counts: SDXL paper (Podell et al. 2023), table 1."""

    unet_params_m: float
    text_params_m: float
    vae_params_m: float
    native_px: int  # width*height the family was trained at
    unet_mib_per_mpx: float  # UNet working memory per image per megapixel, memory-efficient attention
    attn_heads: int  # heads of the first (largest) attention level
    attn_token_divisor: int  # latent tokens at that level = width*height / divisor
    attn_share: float  # share of a native-resolution step spent in attention (its cost grows ~ px^2)
    step_s_linear_attn: float  # s/step, batch 1, native px, xformers/SDP (stable-fast README, RTX 4080)
    step_s_split_attn: float  # same without --xformers/--opt-sdp-attention (stock A1111)
    batch_marginal: float  # extra step time per extra image, as a fraction of a batch-1 step
    vae_decode_s: float  # per image at native px
    text_encode_s: float  # one conditioning (a prompt, or the negative prompt) through the text encoders
    load_s: float  # checkpoint load from a warm disk
    lora_mib_per_rank: float  # fp16 LoRA weights per unit of network rank


PROFILES: dict[Arch, ArchProfile] = {
    Arch.SD15: ArchProfile(
        unet_params_m=859.5, text_params_m=123.1, vae_params_m=83.7, native_px=512 * 512,
        unet_mib_per_mpx=600.0, attn_heads=8, attn_token_divisor=64, attn_share=0.15,
        step_s_linear_attn=1 / 24.5, step_s_split_attn=1 / 17.2, batch_marginal=0.5,
        vae_decode_s=0.08, text_encode_s=0.010, load_s=5.0, lora_mib_per_rank=1.15,
    ),
    Arch.SDXL: ArchProfile(
        unet_params_m=2567.5, text_params_m=817.0, vae_params_m=83.7, native_px=1024 * 1024,
        unet_mib_per_mpx=3500.0, attn_heads=10, attn_token_divisor=256, attn_share=0.1,
        step_s_linear_attn=1 / 4.3, step_s_split_attn=1 / 3.6, batch_marginal=0.75,
        vae_decode_s=0.35, text_encode_s=0.035, load_s=12.0, lora_mib_per_rank=6.5,
    ),
}  # fmt: skip


def profile(arch: Arch) -> ArchProfile:
    """The family's profile; an unknown family is simulated as SD1.5-sized."""
    return PROFILES[Arch.SD15 if arch is Arch.UNKNOWN else arch]
