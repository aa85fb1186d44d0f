"""`python -m emulator <webui.py flags>`: an AUTOMATIC1111 API server without a GPU."""

from emulator.server import main

main()
