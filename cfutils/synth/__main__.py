"""``python -m cfutils.synth``: see :func:`cfutils.synth.cli.main`."""

from cfutils.synth.cli import main

main()
