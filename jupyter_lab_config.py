"""JupyterLab settings of ``make lab`` and of the browser tests: nothing reaches the network.

JupyterLab fetches a news feed and PyPI's latest version at start-up, and its extension manager
queries PyPI; this project pins every package, so none of the three is wanted.
"""

c = get_config()  # noqa: F821 (traitlets config files receive get_config)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"
