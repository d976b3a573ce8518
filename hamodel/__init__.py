"""hamodel: architecture-as-code for highly available deployments."""

from hamodel import model as _model
from hamodel.errors import HamodelError, LoadError, ModelError
from hamodel.model import *

__version__ = "0.1.0"
__all__ = ["HamodelError", "LoadError", "ModelError"]
__all__ += _model.__all__  # the form type checkers follow
