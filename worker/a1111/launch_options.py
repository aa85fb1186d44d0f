"""The options a worker sets on an A1111 it launched, once after each start (docs/workers.md).

- `CLIP_stop_at_last_layers: 1`. A1111 restores a request's `override_settings` afterwards only for
  keys already in its `opts.data` (those config.json holds); on a fresh install clip skip is not there,
  so one job's clip skip stayed set after it, and the next POST /options (a checkpoint switch) saved it
  to config.json for good. Setting the option once puts it in `opts.data`; every override is then
  restored. Seen on the real A1111 v1.10.1 (docs/emulator.md, "Proof on the real A1111").
- `live_previews_enable: False`. The worker never reads previews (it polls progress with
  `skip_current_image`), and with previews on, A1111 loads its "Approx NN" preview decoder before every
  generation: for SDXL that file is downloaded from GitHub on first use, so an offline SDXL worker
  failed every job with HTTP 500 `URLError`. Off, nothing is downloaded and no preview is decoded.

An attached A1111's options are its owner's: the worker leaves them alone.
"""

from __future__ import annotations

from typing import Any

LAUNCH_OPTIONS: dict[str, Any] = {"CLIP_stop_at_last_layers": 1, "live_previews_enable": False}
