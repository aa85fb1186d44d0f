"""webui.py's command line (modules/cmd_args.py, v1.10.1, plus the Lora extension's flags) as data.

`python -m emulator` accepts all of it; most flags have no meaning without a GPU and are accepted and
ignored, as `--skip-install` is by webui.py itself. `/sdapi/v1/cmd-flags` reports every dest.
"""

from __future__ import annotations

import os
from typing import Any

# (flag, kind, default). kind: "bool" (store_true), "str", "int", "list" (nargs="+"). A default of
# "<data>/x" or "<models>/x" is resolved against --data-dir / --models-dir when the flags are parsed.
FLAGS: tuple[tuple[str, str, Any], ...] = (
    ("-f", "bool", False),
    ("--update-all-extensions", "bool", False),
    ("--skip-python-version-check", "bool", False),
    ("--skip-torch-cuda-test", "bool", False),
    ("--reinstall-xformers", "bool", False),
    ("--reinstall-torch", "bool", False),
    ("--update-check", "bool", False),
    ("--test-server", "bool", False),
    ("--log-startup", "bool", False),
    ("--skip-prepare-environment", "bool", False),
    ("--skip-install", "bool", False),
    ("--dump-sysinfo", "bool", False),
    ("--loglevel", "str", None),
    ("--do-not-download-clip", "bool", False),
    ("--data-dir", "str", "<cwd>"),
    ("--models-dir", "str", None),
    ("--config", "str", "<data>/configs/v1-inference.yaml"),
    ("--ckpt", "str", "<data>/model.ckpt"),
    ("--ckpt-dir", "str", None),
    ("--vae-dir", "str", None),
    ("--gfpgan-dir", "str", "./GFPGAN"),
    ("--gfpgan-model", "str", None),
    ("--no-half", "bool", False),
    ("--no-half-vae", "bool", False),
    ("--no-progressbar-hiding", "bool", False),
    ("--max-batch-count", "int", 16),
    ("--embeddings-dir", "str", "<data>/embeddings"),
    ("--textual-inversion-templates-dir", "str", "<data>/textual_inversion_templates"),
    ("--hypernetwork-dir", "str", "<models>/hypernetworks"),
    ("--localizations-dir", "str", "<data>/localizations"),
    ("--allow-code", "bool", False),
    ("--medvram", "bool", False),
    ("--medvram-sdxl", "bool", False),
    ("--lowvram", "bool", False),
    ("--lowram", "bool", False),
    ("--always-batch-cond-uncond", "bool", False),
    ("--unload-gfpgan", "bool", False),
    ("--precision", "str", "autocast"),
    ("--upcast-sampling", "bool", False),
    ("--share", "bool", False),
    ("--ngrok", "str", None),
    ("--ngrok-region", "str", ""),
    ("--ngrok-options", "str", None),
    ("--enable-insecure-extension-access", "bool", False),
    ("--codeformer-models-path", "str", "<models>/Codeformer"),
    ("--gfpgan-models-path", "str", "<models>/GFPGAN"),
    ("--esrgan-models-path", "str", "<models>/ESRGAN"),
    ("--bsrgan-models-path", "str", "<models>/BSRGAN"),
    ("--realesrgan-models-path", "str", "<models>/RealESRGAN"),
    ("--dat-models-path", "str", "<models>/DAT"),
    ("--clip-models-path", "str", None),
    ("--xformers", "bool", False),
    ("--force-enable-xformers", "bool", False),
    ("--xformers-flash-attention", "bool", False),
    ("--deepdanbooru", "bool", False),
    ("--opt-split-attention", "bool", False),
    ("--opt-sub-quad-attention", "bool", False),
    ("--sub-quad-q-chunk-size", "int", 1024),
    ("--sub-quad-kv-chunk-size", "int", None),
    ("--sub-quad-chunk-threshold", "int", None),
    ("--opt-split-attention-invokeai", "bool", False),
    ("--opt-split-attention-v1", "bool", False),
    ("--opt-sdp-attention", "bool", False),
    ("--opt-sdp-no-mem-attention", "bool", False),
    ("--disable-opt-split-attention", "bool", False),
    ("--disable-nan-check", "bool", False),
    ("--use-cpu", "list", []),
    ("--use-ipex", "bool", False),
    ("--disable-model-loading-ram-optimization", "bool", False),
    ("--listen", "bool", False),
    ("--port", "int", None),
    ("--show-negative-prompt", "bool", False),
    ("--ui-config-file", "str", "<data>/ui-config.json"),
    ("--hide-ui-dir-config", "bool", False),
    ("--freeze-settings", "bool", False),
    ("--freeze-settings-in-sections", "str", None),
    ("--freeze-specific-settings", "str", None),
    ("--ui-settings-file", "str", "<data>/config.json"),
    ("--gradio-debug", "bool", False),
    ("--gradio-auth", "str", None),
    ("--gradio-auth-path", "str", None),
    ("--gradio-img2img-tool", "str", None),
    ("--gradio-inpaint-tool", "str", None),
    ("--gradio-allowed-path", "list", []),
    ("--opt-channelslast", "bool", False),
    ("--styles-file", "list", []),
    ("--autolaunch", "bool", False),
    ("--theme", "str", None),
    ("--use-textbox-seed", "bool", False),
    ("--disable-console-progressbars", "bool", False),
    ("--enable-console-prompts", "bool", False),
    ("--vae-path", "str", None),
    ("--disable-safe-unpickle", "bool", False),
    ("--api", "bool", False),
    ("--api-auth", "str", None),
    ("--api-log", "bool", False),
    ("--nowebui", "bool", False),
    ("--ui-debug-mode", "bool", False),
    ("--device-id", "str", None),
    ("--administrator", "bool", False),
    ("--cors-allow-origins", "str", None),
    ("--cors-allow-origins-regex", "str", None),
    ("--tls-keyfile", "str", None),
    ("--tls-certfile", "str", None),
    ("--disable-tls-verify", "bool", None),
    ("--server-name", "str", None),
    ("--gradio-queue", "bool", True),
    ("--no-gradio-queue", "bool", False),
    ("--skip-version-check", "bool", False),
    ("--no-hashing", "bool", False),
    ("--no-download-sd-model", "bool", False),
    ("--subpath", "str", None),
    ("--add-stop-route", "bool", False),
    ("--api-server-stop", "bool", False),
    ("--timeout-keep-alive", "int", 30),
    ("--disable-all-extensions", "bool", False),
    ("--disable-extra-extensions", "bool", False),
    ("--skip-load-model-at-start", "bool", False),
    ("--unix-filenames-sanitization", "bool", False),
    ("--filenames-max-length", "int", 128),
    ("--no-prompt-history", "bool", False),
    # extensions-builtin/Lora/preload.py
    ("--lora-dir", "str", "<models>/Lora"),
    ("--lyco-dir-backcompat", "str", "<models>/LyCORIS"),
    # the other built-in extensions' preload.py
    ("--ldsr-models-path", "str", "<models>/LDSR"),
    ("--scunet-models-path", "str", "<models>/ScuNET"),
    ("--swinir-models-path", "str", "<models>/SwinIR"),
)


def dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def resolve_default(value: Any, data_dir: str, models_dir: str) -> Any:
    if not isinstance(value, str):
        return value
    if value == "<cwd>":
        return os.getcwd()
    if value.startswith("<data>/"):
        return os.path.join(data_dir, value[len("<data>/") :])
    if value.startswith("<models>/"):
        return os.path.join(models_dir, value[len("<models>/") :])
    return value
