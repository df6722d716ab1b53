"""``python -m cfutils.data.synth``: see :func:`cfutils.data.synth.cli.main`."""

from cfutils.data.synth.cli import main

main()
