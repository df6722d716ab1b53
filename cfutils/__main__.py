"""``python -m cfutils``: the pipeline (:func:`cfutils.present.pipeline.main`)."""

from cfutils.present.pipeline import main

raise SystemExit(main())
