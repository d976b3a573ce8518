"""hamodel: architecture-as-code for highly available deployments."""

from hamodel.errors import HamodelError, LoadError, ModelError
from hamodel.model import *  # noqa: F401,F403
from hamodel.model import __all__ as _model_all

__version__ = "0.1.0"
__all__ = ["HamodelError", "LoadError", "ModelError", *_model_all]
