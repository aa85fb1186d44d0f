"""The upscalers and latent upscale modes of a stock A1111 install (hires fix and `/upscalers`)."""

# (name, model_name, scale) of a stock install's upscalers
UPSCALERS = (
    ("None", None, 4), ("Lanczos", None, 4), ("Nearest", None, 4), ("DAT x2", "DAT x2", 2),
    ("DAT x3", "DAT x3", 3), ("DAT x4", "DAT x4", 4), ("ESRGAN_4x", "ESRGAN_4x", 4), ("LDSR", "LDSR", 4),
    ("R-ESRGAN 4x+", "R-ESRGAN 4x+", 4), ("R-ESRGAN 4x+ Anime6B", "R-ESRGAN 4x+ Anime6B", 4),
    ("ScuNET GAN", "ScuNET GAN", 4), ("ScuNET PSNR", "ScuNET PSNR", 4), ("SwinIR 4x", "SwinIR 4x", 4),
)  # fmt: skip
LATENT_UPSCALE_MODES = (
    "Latent", "Latent (antialiased)", "Latent (bicubic)", "Latent (bicubic antialiased)", "Latent (nearest)",
    "Latent (nearest-exact)",
)  # fmt: skip

UPSCALER_NAMES = frozenset(name for name, _model, _scale in UPSCALERS)
