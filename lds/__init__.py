"""lds: self-hosted Location Data Services (geocoding, reverse, batch, isolines, routing) from OSM.

Embedding use::

    from lds import LDS, Settings
    lds = LDS(Settings.from_env(data_dir="graph_data/monaco"))
    lds.route((7.42, 43.73), (7.43, 43.74), mode="car")
"""

from lds.core import LDS
from lds.settings import Settings

__all__ = ["LDS", "Settings", "__version__"]
__version__ = "0.1.0"
