"""Everything that runs without a screen: grids, queue, workers, training, statistics.

Never imports textual or xltui. Modules that need torch import it themselves, so
importing the package (or the store and queue) stays light.
"""
